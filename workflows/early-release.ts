/**
 * Early release (issue 12 section 1): a VM whose Veeam task has ended with Success or Warning has
 * been read; the run lets it go at once instead of keeping it in write-through until the whole
 * session ends (its guard restores it when no other holder needs it). A VM whose task failed stays
 * held until the session ends: a retry may read it again.
 *
 * Before a VM is let go, its flush is read once more: one that left write-through at any time
 * before (possibly before its snapshot) is reported as drift and kept until the end, and the run
 * fails PolicyDrift, instead of its change being found only by the release and kept with a warning.
 * Once released, a VM is out of the run's hands: it is never released twice (the guard holder
 * acts only on granted VMs) and its guard's later answers only say how its restore went.
 *
 * Runs choose it with `veeam.release: 'per-vm'` (the default) under the `early-release` patch;
 * older histories, `'session-end'` and the run-local guard keep every VM until the session ends.
 * Veeam-started runs use it too, under their own patch and across Veeam's retries (veeam-started.ts).
 */
import { isCancellation, patched } from '@temporalio/workflow';
import { durationMs } from '../domain/duration';
import { isFlushed } from '../domain/policy';
import type { BackupSession } from '../domain/veeam';
import type { StepProxies } from './activity-proxies';
import { messageOf } from './failures';
import type { ProtectedBackupInput } from './input';
import type { VmStatus } from './status';
import type { RunTracker } from './tracker';
import type { WriteThroughGuard } from './guard/write-through-guard';

export const EARLY_RELEASE_PATCH = 'early-release';

/** Sees each state of the session the run follows, while it runs. */
export interface SessionWatcher {
  seen(session: BackupSession): Promise<void>;
  /**
   * The session has stopped and the run goes on (a Veeam-started run waits for Veeam's retry):
   * its VMs read for good are let go now rather than when the run ends.
   */
  stopped(session: BackupSession): Promise<void>;
}

/** Longest pause between two flush reads of VMs waiting for release while FVP cannot be read. */
const MAX_READ_BACKOFF_MS = 5 * 60_000;

/** Task results after which Veeam has read a VM for good. */
const READ = new Set(['Success', 'Warning']);

/**
 * The VMs (names) whose every task in the session ended with Success or Warning. A VM with no task
 * yet, or one still pending, running or failed, is not done.
 */
export function vmsReadFor(session: BackupSession): Set<string> {
  const done = new Set<string>();
  const notDone = new Set<string>();
  for (const task of session.tasks) {
    if (READ.has(task.result)) done.add(task.vm);
    else notDone.add(task.vm);
  }
  for (const vm of notDone) done.delete(vm);
  return done;
}

/** How many of the session's tasks have ended (any result): what the run already knows. */
export function endedTasks(session: BackupSession): number {
  return session.tasks.filter((task) => task.result !== 'None').length;
}

/**
 * The run's early release, or undefined when it keeps every VM until the session ends. The patch is
 * asked only on the early path (`per-vm` with a per-VM guard): other runs record no marker.
 */
export function earlyReleaseOf(
  tracker: RunTracker,
  steps: Pick<StepProxies, 'fvp'>,
  guard: WriteThroughGuard,
  input: ProtectedBackupInput,
  /** Veeam-started runs ask their own patch (veeam-started.ts): they got early release later. */
  patchId: string = EARLY_RELEASE_PATCH,
): SessionWatcher | undefined {
  const releaseEarly = guard.releaseEarly?.bind(guard);
  if (input.veeam.release !== 'per-vm' || releaseEarly === undefined || !patched(patchId)) {
    return undefined;
  }
  return earlyRelease(tracker, steps, releaseEarly, input);
}

function earlyRelease(
  tracker: RunTracker,
  steps: Pick<StepProxies, 'fvp'>,
  releaseEarly: (vms: VmStatus[]) => Promise<VmStatus[]>,
  input: ProtectedBackupInput,
): SessionWatcher {
  const pollIntervalMs = durationMs(input.flush.pollInterval);
  let readBackoffMs = 0;
  let nextReadAt = 0;

  /** Held by this run through a guard, granted, not drifted, not let go yet. */
  const releasable = (vm: VmStatus): boolean =>
    vm.guardId !== undefined && vm.step === 'flushed' && vm.drift === undefined && vm.releasedAt === undefined;

  /**
   * Lets go the VMs `session` has read for good. Not on a Stopped session while it follows one (the
   * run's end releases them right after), nor while FVP reads back off, unless `stopped` says the
   * run goes on: then it is their one chance before the next session.
   */
  async function releaseRead(session: BackupSession, stopped: boolean): Promise<void> {
    if (!stopped && (session.state === 'Stopped' || Date.now() < nextReadAt)) return;
    const read = vmsReadFor(session);
    const candidates = tracker.status.vms.filter((vm) => releasable(vm) && read.has(vm.vm));
    if (candidates.length === 0) return;
    let states;
    try {
      states = await steps.fvp.waitForFlush({
        vms: candidates.map((vm) => vm.vm),
        pollIntervalMs,
        returnAfterMs: 0,
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      // Not knowing is no reason to stop the backup: the VMs stay held, and are read again later.
      readBackoffMs = Math.min(Math.max(readBackoffMs * 2, pollIntervalMs), MAX_READ_BACKOFF_MS);
      nextReadAt = Date.now() + readBackoffMs;
      tracker.warn(
        `cannot read ${candidates.map((vm) => vm.vm).join(', ')} before releasing them early (${messageOf(err)}); they stay in write-through meanwhile`,
      );
      return;
    }
    readBackoffMs = 0;
    const flushed: VmStatus[] = [];
    for (const [i, state] of states.entries()) {
      const vm = candidates[i] as VmStatus;
      if (isFlushed(state)) {
        flushed.push(vm);
        continue;
      }
      vm.effective = state.effective;
      vm.timeToDestageSeconds = state.timeToDestageSeconds;
      vm.drift = `found out of write-through when its Veeam task ended: requested ${state.requested.mode}, effective ${state.effective}, ${state.timeToDestageSeconds} s to destage`;
      tracker.warn(`${vm.vm}: ${vm.drift}; its backup may not be consistent, kept until the session ends`);
    }
    if (flushed.length === 0) return;
    for (const vm of await releaseEarly(flushed)) tracker.released(vm);
  }

  return {
    seen: (session) => releaseRead(session, false),
    stopped: (session) => releaseRead(session, true),
  };
}
