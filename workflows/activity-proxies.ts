/**
 * Every activity stub the workflows use, in one place, named by purpose; each exposes only the
 * activities it is for. Steps that touch FVP or Veeam wait for their cancellation to complete:
 * with Temporal's default (TRY_CANCEL) a workflow could restore a VM while a cancelled step is
 * still changing it, or while the job reads.
 */
import {
  ActivityCancellationType,
  proxyActivities,
  proxyLocalActivities,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { StepTimeouts } from './step-timeouts';

type A = Activities;
export type FvpSteps = Pick<
  A,
  | 'readCachePolicy'
  | 'setWriteThrough'
  | 'waitForFlush'
  | 'switchAndWaitForFlush'
  | 'readVadpBlacklist'
  | 'setVadpBlacklist'
>;
export type RestoreStep = Pick<A, 'restoreCachePolicy'>;
export type VeeamSteps = Pick<A, 'describeJob' | 'startJobOnce' | 'stopJob' | 'prepareJobStart'>;
export type VeeamWaits = Pick<A, 'prepareJobStart' | 'watchSession'>;

const TWELVE_HOURS_MS = 12 * 3600_000;

/** Forward steps: bounded retries, then the run gives up (and restores). */
function forwardOptions(t: StepTimeouts): ActivityOptions {
  return {
    heartbeatTimeout: t.heartbeatMs,
    startToCloseTimeout: t.stepMs,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: t.retryInitialMs,
      backoffCoefficient: 2,
      maximumInterval: Math.max(t.retryInitialMs, 30_000),
      maximumAttempts: t.retryMaximumAttempts,
    },
  };
}

/**
 * The FVP and Veeam steps of a run (or of a guard's cycle), built from its step timeouts.
 * `summary`: what the Web UI shows for each of these activities ("flush sql-01").
 */
export function stepProxies(t: StepTimeouts, longestWaitMs: number = TWELVE_HOURS_MS, summary?: string) {
  const forward: ActivityOptions = { ...forwardOptions(t), ...(summary ? { summary } : {}) };
  return {
    fvp: proxyActivities<FvpSteps>(forward),
    /** A few quick attempts per round; the workflow's restore loop (restore-policy.ts) never gives up. */
    restore: proxyActivities<RestoreStep>({
      ...forward,
      retry: { ...forward.retry, maximumInterval: t.restoreMaxIntervalMs, maximumAttempts: 3 },
    }),
    veeam: proxyActivities<VeeamSteps>(forward),
    /** Steps that may wait for a whole Veeam job (another run's, or ours). */
    veeamWait: proxyActivities<VeeamWaits>({ ...forward, startToCloseTimeout: longestWaitMs + t.stepMs }),
  };
}
export type StepProxies = ReturnType<typeof stepProxies>;

/** The patch under which runs and guards upsert the product's search attributes (domain/search-attributes.ts). */
export const OPERATOR_VISIBILITY = 'operator-visibility';

/** The patch under which runs and the reconciler send guard requests through regular activities. */
export const GUARD_REQUESTS_AS_ACTIVITIES = 'guard-requests-as-activities';

/** The worker's guard settings (its FVP server, guard periods): a tiny local activity. */
export const { vmGuardSettings } = proxyLocalActivities<Pick<A, 'vmGuardSettings'>>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200ms', maximumInterval: '5 seconds' },
});

/** A guard's questions to the Temporal server: are its holders alive, did a predecessor leave a record? */
const GUARD_LOOKUP_OPTIONS = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200ms', maximumInterval: '5 seconds', maximumAttempts: 5 },
} as const;
export const guardLookups = proxyActivities<Pick<A, 'describeHolders' | 'findGuardPredecessor'>>(GUARD_LOOKUP_OPTIONS);

/**
 * A guard's reads before its first decision (guards since `guard-lean-flush`): local activities,
 * run inside the workflow task that asks for them, so that a fresh guard reads its VM's policy,
 * looks for a predecessor and sends its switch in one task (issue 12: each regular activity was one
 * more dispatch and workflow task per guard, times 200 VMs). Reads only: a stale workflow task that
 * runs them changes nothing, since the server rejects its commands. Options as their regular forms.
 */
export function guardLocalReads(t: StepTimeouts, summary?: string) {
  const { retry } = forwardOptions(t);
  return {
    fvp: proxyLocalActivities<Pick<A, 'readCachePolicy'>>({
      startToCloseTimeout: t.stepMs,
      ...(retry ? { retry } : {}),
      ...(summary ? { summary } : {}),
    }),
    lookups: proxyLocalActivities<Pick<A, 'findGuardPredecessor'>>(GUARD_LOOKUP_OPTIONS),
  };
}

/**
 * Which guard id each VM of a run has (runs since `guard-by-uuid`): a strongly consistent read.
 * Local: it only reads (a stale workflow task that runs it changes nothing), and as a regular
 * activity it would cost every run one more workflow task and dispatch before its first acquire
 * (the guard's latency budget, bench/guard.ts, is 300 ms).
 */
export const guardRouting = proxyLocalActivities<Pick<A, 'routeGuards'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200ms', maximumInterval: '5 seconds', maximumAttempts: 5 },
});

/**
 * How requests reach the guards (signal-with-start, which workflow code cannot do itself).
 * `request`: bounded retries, like a forward step; `release`: a release must get out, whatever it takes.
 *
 * Regular activities, not local ones: a local activity runs inside the workflow task, so a stale
 * task (a paused worker resuming after another finished the run) would still send its requests;
 * the server rejects a stale task's commands, so a scheduled activity never runs. The local form
 * is kept only for histories recorded before the `guard-requests-as-activities` patch.
 */
export function guardMessengers(t: Pick<StepTimeouts, 'retryMaximumAttempts' | 'restoreMaxIntervalMs'>) {
  const base = { startToCloseTimeout: '30 seconds', scheduleToStartTimeout: '1 minute' } as const;
  return {
    request: proxyActivities<Pick<A, 'signalVmGuards'>>({
      ...base,
      retry: { initialInterval: '200ms', maximumInterval: '10 seconds', maximumAttempts: t.retryMaximumAttempts },
    }),
    release: proxyActivities<Pick<A, 'signalVmGuards'>>({
      ...base,
      retry: { initialInterval: '200ms', maximumInterval: t.restoreMaxIntervalMs },
    }),
  };
}

/** The local-activity messengers of histories recorded before the `guard-requests-as-activities` patch. */
export function localGuardMessengers(t: Pick<StepTimeouts, 'retryMaximumAttempts' | 'restoreMaxIntervalMs'>) {
  return {
    request: proxyLocalActivities<Pick<A, 'signalVmGuards'>>({
      startToCloseTimeout: '30 seconds',
      retry: { initialInterval: '200ms', maximumInterval: '10 seconds', maximumAttempts: t.retryMaximumAttempts },
    }),
    release: proxyLocalActivities<Pick<A, 'signalVmGuards'>>({
      startToCloseTimeout: '30 seconds',
      retry: { initialInterval: '200ms', maximumInterval: t.restoreMaxIntervalMs },
    }),
  };
}

/** The reconciler's: unrestored guards, their holders, and its requests to them. */
export const reconcilerLookups = proxyActivities<Pick<A, 'findUnrestoredGuards' | 'describeHolders'>>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5 },
});
/** The reconciler's requests to guards: a regular activity for the reason guardMessengers gives. */
export const reconcilerMessengers = proxyActivities<Pick<A, 'signalVmGuards'>>({
  startToCloseTimeout: '30 seconds',
  scheduleToStartTimeout: '1 minute',
  retry: { initialInterval: '200ms', maximumInterval: '10 seconds', maximumAttempts: 10 },
});
/** Before the `guard-requests-as-activities` patch: a local activity. */
export const localReconcilerMessengers = proxyLocalActivities<Pick<A, 'signalVmGuards'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200ms', maximumInterval: '10 seconds', maximumAttempts: 10 },
});

/** Notifications: sent once per event key by the activity, however often Temporal retries it. */
export const { notify } = proxyActivities<Pick<A, 'notify'>>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumInterval: '5 minutes', maximumAttempts: 10 },
});

/** doctor: read-only checks on the worker's PowerShell hosts. */
export const { runDoctor } = proxyActivities<Pick<A, 'runDoctor'>>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 3 },
});
