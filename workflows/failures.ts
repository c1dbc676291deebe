/**
 * Failure types the workflows raise, and the one way they turn anything thrown into a typed
 * ApplicationFailure: a plain Error escaping workflow code would fail the workflow *task* and
 * retry it forever instead of failing the run.
 */
import { ApplicationFailure, isCancellation, TemporalFailure } from '@temporalio/workflow';

export const FailureType = {
  invalidInput: 'InvalidInput',
  unknownVm: 'UnknownVm',
  flushTimeout: 'FlushTimeout',
  vadpMissing: 'VadpBlacklistMissing',
  jobFailed: 'BackupJobFailed',
  jobTooLong: 'BackupJobTooLong',
  stepFailed: 'StepFailed',
  /** A conditional policy write found another policy than expected: someone else changed the VM. */
  policyChanged: 'PolicyChanged',
  /** A VM left write-through (or its flush) after it was verified, before or during the backup. */
  policyDrift: 'PolicyDrift',
  /** Veeam backed up a VM the run did not protect (a container's VM, a VM added to the job since). */
  backedUpUnprotected: 'BackedUpUnprotected',
  /**
   * A restore found that FVP no longer knows the VM (deleted, or removed from FVP), confirmed by a
   * fresh read in the activity: nothing is left to restore (restore-policy.ts ends its loop).
   */
  vmNotFound: 'VmNotFound',
  /** A restore found the VM no longer accelerated (out of its FVP cluster), confirmed by a fresh read. */
  vmNotAccelerated: 'VmNotAccelerated',
  /**
   * The run stopped waiting for a restore that keeps failing: the VM is still in write-through and
   * its guard keeps restoring it alone (guard/holder.ts), so that the job's next runs are not blocked.
   */
  restoreHandedOver: 'RestoreHandedOver',
  internal: 'InternalError',
} as const;

/** The innermost readable message: an ActivityFailure's cause carries what the activity said. */
export function messageOf(err: unknown): string {
  let current: unknown = err;
  while (current instanceof TemporalFailure && current.cause) current = current.cause;
  if (current instanceof Error) return current.message;
  return String(current);
}

export function typeOf(err: unknown): string | undefined {
  let current: unknown = err;
  while (current instanceof TemporalFailure) {
    if (current instanceof ApplicationFailure && current.type) return current.type;
    current = current.cause;
  }
  return undefined;
}

/** Anything thrown → a non-retryable ApplicationFailure (cancellation passes through untouched). */
export function asApplicationFailure(err: unknown, details: unknown[] = []): unknown {
  if (isCancellation(err)) return err;
  if (err instanceof ApplicationFailure && err.nonRetryable) {
    return ApplicationFailure.create({
      message: err.message,
      type: err.type ?? undefined,
      nonRetryable: true,
      details,
      cause: err.cause,
    });
  }
  return ApplicationFailure.create({
    message: messageOf(err),
    type: typeOf(err) ?? FailureType.stepFailed,
    nonRetryable: true,
    details,
  });
}
