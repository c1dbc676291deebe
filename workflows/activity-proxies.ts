/**
 * Activity stubs with the options each kind of step needs, derived from the run's input.
 * Every activity waits for its cancellation to complete: with Temporal's default (TRY_CANCEL) the
 * workflow could restore a VM while a cancelled step is still changing it, or while the job reads.
 */
import { ActivityCancellationType, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { type ProtectedBackupInput } from './input';
import { durationMs } from '../domain/duration';

export function activityProxies(timeouts: ProtectedBackupInput['timeouts'], longestWait: string | number = '12 hours') {
  const retryInitialMs = durationMs(timeouts.retryInitialInterval);
  const forwardOptions: ActivityOptions = {
    heartbeatTimeout: durationMs(timeouts.heartbeat),
    startToCloseTimeout: durationMs(timeouts.step),
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    // Forward steps: bounded retries, then the run gives up (and restores).
    retry: {
      initialInterval: retryInitialMs,
      backoffCoefficient: 2,
      maximumInterval: Math.max(retryInitialMs, 30_000),
      maximumAttempts: timeouts.retryMaximumAttempts,
    },
  };
  return {
    forward: proxyActivities<Activities>(forwardOptions),
    /** Restore: a few quick attempts per round; the workflow's restore loop never gives up. */
    restore: proxyActivities<Activities>({
      ...forwardOptions,
      retry: { ...forwardOptions.retry, maximumInterval: durationMs(timeouts.restoreMaxInterval), maximumAttempts: 3 },
    }),
    /** Steps that may wait for a whole Veeam job (another run's, or ours). */
    longWait: proxyActivities<Activities>({
      ...forwardOptions,
      startToCloseTimeout: durationMs(longestWait) + durationMs(timeouts.step),
    }),
  };
}

export type ActivityProxies = ReturnType<typeof activityProxies>;
