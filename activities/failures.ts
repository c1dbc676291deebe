/**
 * Turns what the PowerShell boundary throws into Temporal failures: transient problems stay
 * retryable, permanent ones become non-retryable ApplicationFailures whose type and message an
 * operator can act on (`VmNotFound: VM 'sql-01' is not known to FVP`).
 */
import { ApplicationFailure } from '@temporalio/common';
import { StartFailureType } from '../domain/veeam';
import { PowerShellError, type PowerShellErrorCategory } from './powershell/errors';

/** ApplicationFailure type of a conditional policy write the module refused: someone else changed the VM. */
export const POLICY_CHANGED = 'PolicyChanged';

/**
 * Categories whose failure type is fixed, whatever the module named the error: the workflow tells
 * "someone else acted" (or "may have") from a failure by these types alone.
 */
const TYPE_OF_CATEGORY: Partial<Record<PowerShellErrorCategory, string>> = {
  'policy-changed': POLICY_CHANGED,
  'fence-moved': StartFailureType.fenceMoved,
  'start-unknown': StartFailureType.startUnknown,
};

export function toActivityFailure(err: unknown): unknown {
  if (err instanceof PowerShellError) {
    return ApplicationFailure.create({
      message: err.message,
      type: TYPE_OF_CATEGORY[err.category] ?? err.errorType ?? err.category,
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

/**
 * Whether a failed Start-BackupJob may have left the job running: it was refused because a session
 * or a running job exists (fence-moved, already-running), or Start-VBRJob may have been sent before
 * the call failed (start-unknown from the module; a timeout, a dead process or a garbled answer from
 * the boundary, which cannot tell how far the module got).
 */
export function startMayHaveHappened(err: unknown): boolean {
  if (!(err instanceof PowerShellError)) return false;
  const uncertain: PowerShellErrorCategory[] = [
    'fence-moved',
    'already-running',
    'start-unknown',
    'timeout',
    'process-died',
    'protocol',
  ];
  return uncertain.includes(err.category);
}

/** Runs an activity body and classifies whatever it throws. */
export async function classified<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw toActivityFailure(err);
  }
}
