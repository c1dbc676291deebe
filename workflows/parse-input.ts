/**
 * How every workflow reads its input: with its zod schema, failing the *run* (non-retryable
 * `InvalidInput`, the message naming each field) instead of the workflow task. A plain error,
 * even one thrown by a schema on a hostile input, would fail the task and retry it forever.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { z } from 'zod';
import { describeZodError } from '../domain/zod-issues';
import { FailureType } from './failures';

export function parseWorkflowInput<S extends z.ZodType>(schema: S, raw: unknown, workflow: string): z.infer<S> {
  let parsed: ReturnType<S['safeParse']>;
  try {
    parsed = schema.safeParse(raw) as ReturnType<S['safeParse']>;
  } catch (err) {
    throw ApplicationFailure.nonRetryable(
      `invalid ${workflow} input: ${err instanceof Error ? err.message : String(err)}`,
      FailureType.invalidInput,
    );
  }
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `invalid ${workflow} input: ${describeZodError(parsed.error)}`,
      FailureType.invalidInput,
    );
  }
  return parsed.data as z.infer<S>;
}
