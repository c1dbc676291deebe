/**
 * The errors the client library throws on purpose. Each message is meant for an operator: it names
 * the field, the job or the workflow id involved, and never a credential.
 */
import type { z } from 'zod';
import { describeZodError } from '../domain/zod-issues';

/** The input failed validation: nothing was started. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
  constructor(
    readonly workflowType: string,
    readonly issues: z.core.$ZodIssue[],
    message: string,
  ) {
    super(message);
  }

  static from(workflowType: string, error: z.ZodError): InvalidInputError {
    return new InvalidInputError(
      workflowType,
      error.issues,
      `invalid ${workflowType} input: ${describeZodError(error)}`,
    );
  }
}

/** A run of the job is already open: nothing was started. */
export class RunAlreadyActiveError extends Error {
  override name = 'RunAlreadyActiveError';
  constructor(
    readonly job: string,
    readonly workflowId: string,
    readonly runId: string | undefined,
  ) {
    super(
      `a protected backup of job ${JSON.stringify(job)} is already running (workflow id ${JSON.stringify(workflowId)}${
        runId ? `, run ${runId}` : ''
      }); nothing was started. Follow it with \`status\`, or wait until it ends`,
    );
  }
}

/** No such workflow (or not a protectedBackup run). */
export class RunNotFoundError extends Error {
  override name = 'RunNotFoundError';
}
