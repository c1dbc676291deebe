/**
 * The timeouts every activity proxy is built from, in milliseconds end to end: a run converts its
 * input's durations once, here, and guards receive and carry the same numbers. Pure.
 */
import { durationMs } from '../domain/duration';
import type { GuardTimeouts } from '../domain/guard-protocol';
import { ProtectedBackupInput } from './input';

/** What the proxies of one run (or one guard cycle) need: a subset of GuardTimeouts. */
export type StepTimeouts = Pick<
  GuardTimeouts,
  'heartbeatMs' | 'stepMs' | 'retryInitialMs' | 'retryMaximumAttempts' | 'restoreMaxIntervalMs'
>;

export function stepTimeoutsOf(timeouts: ProtectedBackupInput['timeouts']): StepTimeouts {
  return {
    heartbeatMs: durationMs(timeouts.heartbeat),
    stepMs: durationMs(timeouts.step),
    retryInitialMs: durationMs(timeouts.retryInitialInterval),
    retryMaximumAttempts: timeouts.retryMaximumAttempts,
    restoreMaxIntervalMs: durationMs(timeouts.restoreMaxInterval),
  };
}

/** The guard's view of a run's input: its step timeouts plus how often it polls FVP and Veeam. */
export function guardTimeoutsOf(input: Pick<ProtectedBackupInput, 'timeouts' | 'flush' | 'veeam'>): GuardTimeouts {
  return {
    ...stepTimeoutsOf(input.timeouts),
    flushPollMs: durationMs(input.flush.pollInterval),
    jobPollMs: durationMs(input.veeam.pollInterval),
  };
}

/**
 * The defaults of protectedBackup's input, from its own schema (the one source of every default):
 * for workflows started by someone who brought no timeouts (a guard started by the reconciler, the
 * VADP setup).
 */
export function defaultGuardTimeouts(): GuardTimeouts {
  const shape = ProtectedBackupInput.shape;
  return guardTimeoutsOf({
    timeouts: shape.timeouts.parse(undefined),
    flush: shape.flush.parse(undefined),
    veeam: shape.veeam.parse(undefined),
  });
}
