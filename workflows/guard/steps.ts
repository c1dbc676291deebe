/**
 * The guard's steps that talk to FVP, Veeam and the Temporal server (through activities): record
 * the policy, switch and verify the flush, check the holders, and end a hold with the restore.
 * Every decision is the state class's (state.ts); these functions only call and hand the answers
 * over, in the order the committed histories expect.
 */
import { ApplicationFailure, log, patched, sleep } from '@temporalio/workflow';
import { isFlushed, type FlushState, type RequestedPolicy, type VmPolicy } from '../../domain/policy';
import { guardIdFor } from '../../domain/guard-protocol';
import { guardLocalReads, guardLookups, stepProxies } from '../activity-proxies';
import { FailureType, messageOf, typeOf } from '../failures';
import * as metrics from '../../domain/metrics';
import { eventBase, sendNotification } from '../notifications';
import { RESTORE_TERMINAL_OUTCOMES, restorePolicy } from '../restore-policy';
import {
  ABANDONED_JOB_SHORT_READS,
  cannotConfirm,
  nextReadPause,
  readAbandonedJob,
  untilRequest,
} from './abandoned-job';
import type { Outcome } from './record';
import type { VmGuard } from './state';

/** How long one flush-polling activity runs before the guard looks at its requests again. */
const FLUSH_ROUND_MS = 2_000;

/**
 * The patch under which a guard takes two workflow tasks and one activity to its grant where it
 * took five and four (issue 12; test/integration/guard-footprint.test.ts): its reads run as local
 * activities (activity-proxies.ts guardLocalReads) and the switch and first flush read are one
 * activity (activities/switch-and-flush.ts). Asked once at the start of every guard run (entity.ts).
 */
export const GUARD_LEAN_FLUSH = 'guard-lean-flush';

/** What the steps need from the workflow around them. */
export interface GuardRuntime {
  /** Continues as new when the history is long (waits for replies and handlers first). */
  continueIfLong(): Promise<void>;
}

/** The guard's steps, each call labelled for the Web UI with what it does to which VM ("flush sql-01"). */
function steps(guard: VmGuard, doing: string) {
  return stepProxies(guard.timeouts(), undefined, `${doing} ${guard.state.vm}`);
}

/** Reads the VM's policy: a local activity for guards since `guard-lean-flush`, else a regular one. */
function readPolicy(guard: VmGuard) {
  const doing = `read the policy of ${guard.state.vm}`;
  const { fvp } = guard.leanFlush
    ? guardLocalReads(guard.timeouts(), doing)
    : stepProxies(guard.timeouts(), undefined, doing);
  return fvp.readCachePolicy(target(guard));
}

/**
 * How the guard's FVP calls address its VM: by uuid when the guard knows it (guards since
 * `guard-by-uuid`: a renamed VM is still found, and answers with its new name), else by name.
 */
function target(guard: VmGuard): { vm: string; uuid?: string } {
  const { vm, uuid } = guard.state;
  return uuid === undefined ? { vm } : { vm, uuid };
}

/** Takes the VM's current name from an answer to a call by uuid (state.ts followName), and logs a rename. */
function followName(guard: VmGuard, current: string | undefined): void {
  const before = guard.followName(current);
  if (before !== null) log.info('vmGuard: the VM was renamed; the guard follows it', { from: before, to: current });
}

/**
 * The name-keyed ids a uuid-keyed guard's VM may have had a guard under (runs before
 * `guard-by-uuid`): a fresh guard adopts an unclean record left there (activities/vm-guard.ts).
 */
function legacyGuardIds(guard: VmGuard): string[] {
  const { uuid, vm, fvpServer } = guard.state;
  if (uuid === undefined) return [];
  const legacy = guardIdFor(fvpServer, vm);
  return legacy === guard.guardId ? [] : [legacy];
}

function settle<T>(promise: Promise<T>): Promise<Outcome<T>> {
  return promise.then(
    (value): Outcome<T> => ({ ok: true, value }),
    (error: unknown): Outcome<T> => ({ ok: false, error }),
  );
}

export function unknownVmFailure(vm: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`VM ${JSON.stringify(vm)} is not known to FVP`, FailureType.unknownVm);
}

/**
 * Records the policy to give back at the end of this hold (a fresh guard also looks for a
 * predecessor's record). Reads until it can decide; acquirers are refused while it cannot (their
 * runs fail as a run does when FVP cannot be read), releases and reconciles wait.
 */
export async function recordPolicy(
  guard: VmGuard,
  fresh: boolean,
  rt: GuardRuntime,
): Promise<'recorded' | 'unknown-vm'> {
  let pauseMs = guard.timeouts().retryInitialMs;
  for (;;) {
    const adoptedBefore = guard.state.adoptedFrom;
    const [predecessor, policy] = await Promise.all([
      settle(fresh ? findPredecessor(guard) : Promise.resolve(null)),
      settle(readPolicy(guard)),
    ]);
    if (policy.ok && policy.value) followName(guard, policy.value.vm);
    const decision = guard.decideRecord(predecessor, policy);
    if (guard.state.adoptedFrom !== adoptedBefore) {
      log.info('vmGuard: adopted the record of a guard that did not clean up', { from: guard.state.adoptedFrom });
    }
    if (decision !== 'undecided') return decision;
    // Cannot decide (FVP or visibility unavailable): say so, wait, try again.
    const error = !policy.ok ? policy.error : !predecessor.ok ? predecessor.error : 'unknown';
    guard.drain();
    guard.refuseWaiting(error);
    await sleep(pauseMs);
    pauseMs = Math.min(pauseMs * 2, guard.timeouts().restoreMaxIntervalMs);
    if (guard.isEstablished) await rt.continueIfLong();
  }
}

/** The predecessor look-up: of this id, and for a uuid-keyed guard also of its VM's name-keyed id. */
function findPredecessor(guard: VmGuard) {
  const alsoGuardIds = legacyGuardIds(guard);
  const lookups = guard.leanFlush ? guardLocalReads(guard.timeouts()).lookups : guardLookups;
  return lookups.findGuardPredecessor({
    guardId: guard.guardId,
    ...(alsoGuardIds.length > 0 ? { alsoGuardIds } : {}),
  });
}

/** One round: switch if needed, poll the flush once, grant when flushed. */
export async function protectRound(guard: VmGuard): Promise<void> {
  const { fvp } = steps(guard, 'flush');
  const flushPollMs = guard.timeouts().flushPollMs;
  const round = { pollIntervalMs: flushPollMs, returnAfterMs: Math.max(FLUSH_ROUND_MS, 2 * flushPollMs) };
  try {
    let state: FlushState | undefined;
    const switchDue = !guard.state.alreadyWriteThrough && !guard.owesRestore;
    if (switchDue && guard.leanFlush) {
      // The switch and the first flush read in one activity, conditional on the policy just recorded.
      const answer = await switchThenWaitForFlush(guard, guard.state.recorded, round);
      if (answer === null) return;
      state = answer;
    } else {
      if (switchDue) {
        // Conditional on the policy just recorded: refused when someone changed it since.
        if (!(await switchToWriteThrough(guard, guard.state.recorded))) return;
      }
      guard.phase('flushing');
      [state] = await fvp.waitForFlush({ ...flushTargets(guard), ...round });
    }
    followName(guard, state?.vm);
    if (guard.flushRead(state as FlushState | undefined)) {
      if (guard.switchedAt !== null) metrics.flushVerified(guard.state.vm, (Date.now() - guard.switchedAt) / 1000);
      return;
    }
    // Requested write-back again (an admin, or an adopted record): switch again.
    if (state && state.requested.mode !== 'WriteThrough') await switchToWriteThrough(guard, state.requested);
    guard.reportProgress();
  } catch (err) {
    guard.refuseWaiting(err);
  }
}

/** waitForFlush's VMs: by uuid when known (uuids[i] belongs to vms[i]). */
function flushTargets(guard: VmGuard): { vms: string[]; uuids?: string[] } {
  const { vm, uuid } = guard.state;
  return uuid === undefined ? { vms: [vm] } : { vms: [vm], uuids: [uuid] };
}

/**
 * Requests write-through if the VM's requested policy is still `expected`. False when FVP refused
 * because it is not (someone else changed it): nothing was written, the record is read again.
 */
async function switchToWriteThrough(guard: VmGuard, expected: RequestedPolicy | null): Promise<boolean> {
  const after = await switching(
    guard,
    (policy) => policy,
    () =>
      steps(guard, 'switch to write-through').fvp.setWriteThrough({
        ...target(guard),
        ...(expected ? { expected } : {}),
      }),
  );
  return after !== null;
}

/**
 * The switch as switchToWriteThrough makes it, and the first flush read in the same activity
 * (guards since `guard-lean-flush`). Null when FVP refused the switch; else the flush state read.
 */
async function switchThenWaitForFlush(
  guard: VmGuard,
  expected: RequestedPolicy | null,
  round: { pollIntervalMs: number; returnAfterMs: number },
): Promise<FlushState | null> {
  const answer = await switching(
    guard,
    (a) => a.switched,
    () =>
      steps(guard, 'switch to write-through and flush').fvp.switchAndWaitForFlush({
        ...target(guard),
        ...(expected ? { expected } : {}),
        ...round,
      }),
  );
  return answer === null ? null : answer.flush;
}

/**
 * Marks the switch (in the memo before it is sent: it may take effect and still fail), sends it,
 * and takes FVP's answer (`policyOf` finds the policy FVP read after the switch in it); null when
 * FVP refused because someone changed the policy since.
 */
async function switching<T>(
  guard: VmGuard,
  policyOf: (answer: T) => VmPolicy,
  send: () => Promise<T>,
): Promise<T | null> {
  const owedBefore = guard.owesRestore;
  guard.switching();
  guard.switchedAt ??= Date.now();
  metrics.vmWriteThrough(guard.state.vm, true);
  try {
    const answer = await send();
    const after = policyOf(answer);
    followName(guard, after.vm);
    guard.switched(after);
    return answer;
  } catch (err) {
    if (typeOf(err) !== FailureType.policyChanged) throw err;
    log.warn('vmGuard: the policy changed before the switch; reading it again', { error: messageOf(err) });
    guard.switchRefused(owedBefore);
    return null;
  }
}

/**
 * While the holders' jobs may read the disks, one flush read: a VM that left write-through (an
 * admin, FVP itself, a stale write) is reported to the holders and protected again. A read that
 * fails says nothing either way: logged, and the next check reads again.
 */
export async function watchForDrift(guard: VmGuard): Promise<void> {
  const flushPollMs = guard.timeouts().flushPollMs;
  try {
    const [state] = await steps(guard, 'watch the flush of').fvp.waitForFlush({
      ...flushTargets(guard),
      pollIntervalMs: flushPollMs,
      returnAfterMs: 0,
    });
    followName(guard, state?.vm);
    if (state && !isFlushed(state)) guard.driftSeen(state);
  } catch (err) {
    log.warn('vmGuard: could not read the flush state while protecting', { error: messageOf(err) });
  }
}

/** Drops holders that closed without releasing (terminated, timed out, reset away). */
export async function checkHolders(guard: VmGuard): Promise<void> {
  guard.checkRequested = false;
  guard.nextCheckAt = Date.now() + (guard.settings?.holderCheckIntervalMs ?? 0);
  // The gauge lives in the worker's memory: set again at every check, it survives a worker restart.
  metrics.vmWriteThrough(guard.state.vm, guard.owesRestore);
  if (guard.state.holders.length === 0) return;
  let results;
  try {
    results = await guardLookups.describeHolders({
      holders: guard.state.holders.map(({ workflowId, firstRunId }) => ({ workflowId, firstRunId })),
    });
  } catch (err) {
    log.warn('vmGuard: could not check holders', { error: messageOf(err) });
    return;
  }
  for (const holder of guard.dropClosedHolders(results)) {
    const status = results.find(
      (r) => r.workflowId === holder.workflowId && r.firstRunId === holder.firstRunId,
    )?.status;
    log.warn('vmGuard: dropped a holder that is no longer running', {
      holder: holder.workflowId,
      status,
      job: holder.job,
    });
  }
}

/**
 * Nobody holds the VM: wait until the jobs of holders that died after their grant are over, then
 * give the recorded policy back (restore-policy.ts). False when a request came first: serve it
 * (the VM is still write-through).
 */
export async function endHold(guard: VmGuard, rt: GuardRuntime): Promise<boolean> {
  const guardState = guard.state;
  if (!guard.owesRestore) {
    guardState.abandonedJobs = [];
    return true;
  }
  let readPauseMs = guard.timeouts().jobPollMs;
  while (guardState.abandonedJobs.length > 0) {
    guard.phase('waiting-for-abandoned-jobs');
    guard.syncMemo();
    const job = guardState.abandonedJobs[0] as string;
    // Always asked at the same point; histories from before the patch replay the long wait.
    if (patched(ABANDONED_JOB_SHORT_READS)) {
      const read = await readAbandonedJob(guard, job, readPauseMs);
      if (read === 'request') return false;
      if (read === 'over') {
        guardState.abandonedJobs = guardState.abandonedJobs.filter((j) => j !== job);
        readPauseMs = guard.timeouts().jobPollMs;
      } else {
        readPauseMs = nextReadPause(guard, readPauseMs);
      }
      await rt.continueIfLong();
      continue;
    }
    const jobPollMs = guard.timeouts().jobPollMs;
    const outcome = await untilRequest(guard, () =>
      steps(guard, `wait for ${JSON.stringify(job)}, then restore`).veeamWait.prepareJobStart({
        job,
        whenAlreadyRunning: 'wait',
        pollIntervalMs: jobPollMs,
      }),
    );
    if (outcome.kind === 'request') return false;
    // A job Veeam no longer has reads nothing; any other failure leaves the question open.
    if (outcome.kind === 'failed' && outcome.type !== 'JobNotFound' && patched('abandoned-job-wait-holds')) {
      // Not confirmed over (Veeam unreachable, the lookup failing): the job may still read the
      // disks, so the VM stays in write-through, and the wait goes on until Veeam answers.
      guardState.lastError = cannotConfirm(job, outcome.error);
      const pauseMs = guard.timeouts().restoreMaxIntervalMs;
      if ((await untilRequest(guard, () => sleep(pauseMs))).kind === 'request') return false;
      await rt.continueIfLong();
      continue;
    }
    guardState.abandonedJobs = guardState.abandonedJobs.filter((j) => j !== job); // confirmed over: nothing reads any more
  }
  guard.phase('restoring');
  guard.syncMemo();
  const recorded = guardState.recorded;
  const vm = guardState.vm;
  const uuid = guardState.uuid;
  let failingSince: string | null = null;
  // Always asked at the same point when a restore is due; histories from before the patch replay
  // the loop that retried a gone VM forever and held a new acquire until the restore succeeded.
  const terminalOutcomes = recorded !== null && patched(RESTORE_TERMINAL_OUTCOMES);
  const outcome = recorded
    ? await restorePolicy(
        steps(guard, 'restore').restore,
        vm,
        recorded,
        guard.timeouts(),
        {
          attempt: () => guard.restoreAttempt(),
          failed: (message) => {
            guard.restoreFailed(message);
            metrics.restoreAttempt(vm, false);
          },
          afterFailure: async (message) => {
            failingSince ??= new Date(Date.now()).toISOString();
            await sendNotification({
              ...eventBase('restore-failing', { vm, episode: failingSince }),
              vm,
              attempts: guardState.restoreAttempts,
              since: failingSince,
              lastError: message,
            });
          },
          paused: () => rt.continueIfLong(), // a restore failing for days must not grow the history without bound
        },
        terminalOutcomes
          ? {
              terminalOutcomes: true,
              // A run that handed its release over closed (holder.ts); its job's next run acquires
              // here: it holds the VM, still write-through, and its release restores.
              interruptWhen: () => guardState.inbox.some((r) => r.kind === 'acquire'),
              ...(uuid === undefined ? {} : { uuid }),
            }
          : uuid === undefined
            ? undefined
            : { terminalOutcomes: false, uuid },
      )
    : null;
  if (outcome?.kind === 'restored') followName(guard, outcome.policy.vm);
  if (outcome?.kind === 'interrupted') return false;
  if (outcome?.kind === 'restored') metrics.restoreAttempt(vm, true);
  if (outcome?.kind === 'vm-gone' || outcome?.kind === 'not-accelerated') {
    log.warn('vmGuard: the restore ended without restoring; nothing is left in write-through on FVP', {
      vm,
      outcome: outcome.kind,
      error: outcome.message,
    });
  }
  metrics.vmWriteThrough(vm, false);
  if (guard.switchedAt !== null) metrics.writeThroughEnded(vm, (Date.now() - guard.switchedAt) / 1000);
  guard.switchedAt = null;
  guard.restored(outcome);
  return true;
}
