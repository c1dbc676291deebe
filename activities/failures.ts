/**
 * Turns what the PowerShell boundary throws into Temporal failures: transient problems stay
 * retryable, permanent ones become non-retryable ApplicationFailures whose type and message an
 * operator can act on (`VmNotFound: VM 'sql-01' is not known to FVP`).
 */
import { ApplicationFailure } from '@temporalio/common';
import { PowerShellError } from './powershell/errors';

export function toActivityFailure(err: unknown): unknown {
  if (err instanceof PowerShellError) {
    return ApplicationFailure.create({
      message: err.message,
      type: err.errorType ?? err.category,
      nonRetryable: !err.retryable,
    });
  }
  return err;
}

/** The module's error type (e.g. VmNotFound) of a PowerShell failure, if it is one. */
export function powerShellErrorType(err: unknown): string | undefined {
  return err instanceof PowerShellError ? err.errorType : undefined;
}

export function isAlreadyRunning(err: unknown): boolean {
  return err instanceof PowerShellError && err.category === 'already-running';
}

/** Runs an activity body and classifies whatever it throws. */
export async function classified<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw toActivityFailure(err);
  }
}
