/**
 * The guard runs its FVP and Veeam steps with the timeouts of the run that started its current
 * hold (tests shorten them so that a killed worker is noticed in seconds), converted to plain
 * milliseconds for the wire. Pure: shared by the guard, its holders and the reconciler.
 */
import { ProtectedBackupInput } from './input';
import { durationMs } from '../domain/duration';
import type { GuardTimeouts } from '../domain/guard-protocol';

export function guardTimeoutsOf(input: Pick<ProtectedBackupInput, 'timeouts' | 'flush' | 'veeam'>): GuardTimeouts {
  const t = input.timeouts;
  return {
    heartbeatMs: durationMs(t.heartbeat),
    stepMs: durationMs(t.step),
    retryInitialMs: durationMs(t.retryInitialInterval),
    retryMaximumAttempts: t.retryMaximumAttempts,
    restoreMaxIntervalMs: durationMs(t.restoreMaxInterval),
    flushPollMs: durationMs(input.flush.pollInterval),
    jobPollMs: durationMs(input.veeam.pollInterval),
  };
}

/** A protected backup's defaults, for guards started by someone who brought no timeouts. */
export function defaultGuardTimeouts(): GuardTimeouts {
  return guardTimeoutsOf(ProtectedBackupInput.parse({ job: 'n/a' }));
}

/** Back to the shape `activityProxies` takes (durations in milliseconds are valid durations). */
export function proxyTimeouts(t: GuardTimeouts): ProtectedBackupInput['timeouts'] {
  return {
    heartbeat: t.heartbeatMs,
    step: t.stepMs,
    retryInitialInterval: t.retryInitialMs,
    retryMaximumAttempts: t.retryMaximumAttempts,
    restoreMaxInterval: t.restoreMaxIntervalMs,
  };
}
