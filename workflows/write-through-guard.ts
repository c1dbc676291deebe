/**
 * The seam between a run and the VMs' caching policy: "switch these VMs to write-through and
 * verify the flush" and "give them back". This implementation (the run-local guard) works on the
 * run's own VMs: runs recorded before the `vm-guard` patch replay with it, and benchmarks use it as
 * their baseline. New runs go through the per-VM guard shared by overlapping runs
 * (vm-guard-holder.ts), behind the same interface.
 */
import { ApplicationFailure, CancellationScope, CancelledFailure, sleep } from '@temporalio/workflow';
import type { ActivityProxies } from './activity-proxies';
import { FailureType, messageOf } from './failures';
import { type ProtectedBackupInput } from './input';
import { durationMs } from '../domain/duration';
import { rejections, settleWithLimit } from './limit';
import { isFlushed } from '../domain/policy';
import type { RunTracker } from './tracker';
import type { VmStatus } from './status';

/** How long one flush-polling activity runs before it reports progress to the workflow. */
const progressReportMs = 5_000;

export interface WriteThroughGuard {
  /** Switches the accelerated VMs to write-through and waits until FVP has destaged every one. */
  protect(vms: VmStatus[]): Promise<void>;
  /** Gives every VM this run touched exactly its recorded policy back. Never gives up; never throws. */
  release(): Promise<void>;
}

export function runLocalGuard(
  tracker: RunTracker,
  acts: ActivityProxies,
  flush: ProtectedBackupInput['flush'],
  timeouts: ProtectedBackupInput['timeouts'],
): WriteThroughGuard {
  /** VMs whose policy this run may have changed: marked *before* the call, which can take effect and still fail. */
  const touched: VmStatus[] = [];

  async function switchToWriteThrough(vms: VmStatus[]): Promise<void> {
    tracker.phase('switching-to-write-through');
    const toSwitch = vms.filter((vm) => !vm.alreadyWriteThrough);
    const results = await settleWithLimit(toSwitch, flush.concurrency, async (vm) => {
      if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('cancelled before switching');
      touched.push(vm);
      tracker.step(vm, 'switching');
      // Not cancellable: a cancel must not race a switch that would land after the restore.
      const after = await CancellationScope.nonCancellable(() => acts.forward.setWriteThrough({ vm: vm.vm }));
      vm.effective = after.effective;
      tracker.step(vm, 'flushing');
    });
    const failed = rejections(results);
    if (failed.length) throw failed[0];
  }

  async function verifyFlush(vms: VmStatus[]): Promise<void> {
    tracker.phase('verifying-flush');
    const deadline = Date.now() + durationMs(flush.deadline);
    const pollIntervalMs = durationMs(flush.pollInterval);
    let pending = vms;
    while (pending.length > 0) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) {
        const names = pending.map(
          (vm) =>
            `${JSON.stringify(vm.vm)} (effective ${vm.effective}, ${vm.timeToDestageSeconds ?? '?'} s left to destage)`,
        );
        throw ApplicationFailure.nonRetryable(
          `not flushed within ${String(flush.deadline)}: ${names.join(', ')}; no backup was started`,
          FailureType.flushTimeout,
        );
      }
      // Each call polls for a while and reports back, so the status query shows progress.
      const states = await acts.forward.waitForFlush({
        vms: pending.map((vm) => vm.vm),
        pollIntervalMs,
        returnAfterMs: Math.min(remainingMs, progressReportMs),
      });
      for (const [i, state] of states.entries()) {
        const vm = pending[i] as VmStatus;
        vm.effective = state.effective;
        vm.timeToDestageSeconds = state.timeToDestageSeconds;
        if (isFlushed(state)) tracker.step(vm, 'flushed');
      }
      pending = pending.filter((vm) => vm.step !== 'flushed');
    }
  }

  async function restoreOne(vm: VmStatus): Promise<void> {
    const recorded = vm.recorded;
    if (!recorded) return;
    const maxPauseMs = durationMs(timeouts.restoreMaxInterval);
    let pauseMs = durationMs(timeouts.retryInitialInterval);
    tracker.step(vm, 'restoring');
    for (;;) {
      vm.restoreAttempts++;
      try {
        const after = await acts.restore.restoreCachePolicy({ vm: vm.vm, policy: recorded });
        vm.effective = after.effective;
        vm.lastError = null;
        tracker.step(vm, 'restored');
        return;
      } catch (err) {
        vm.lastError = messageOf(err);
        tracker.step(vm, 'restore-failing');
        await sleep(pauseMs);
        pauseMs = Math.min(pauseMs * 2, maxPauseMs);
      }
    }
  }

  return {
    async protect(vms) {
      await switchToWriteThrough(vms);
      await verifyFlush(vms);
    },
    async release() {
      if (touched.length === 0) return;
      tracker.phase('restoring');
      await CancellationScope.nonCancellable(() => settleWithLimit(touched, flush.concurrency, restoreOne));
    },
  };
}
