/**
 * Kept only for v1 replays and the benchmark baseline: the run-local guard, which switches and
 * restores the run's own VMs itself. Runs recorded before the `vm-guard` patch
 * (test/fixtures/histories/v1-*) replay with it; `bench/` selects it by memo as the baseline. New
 * runs hold their VMs through the per-VM guards (holder.ts, entity.ts) instead.
 */
import { ApplicationFailure, CancellationScope, CancelledFailure } from '@temporalio/workflow';
import { durationMs } from '../../domain/duration';
import { isFlushed } from '../../domain/policy';
import type { StepProxies } from '../activity-proxies';
import { FailureType } from '../failures';
import type { ProtectedBackupInput } from '../input';
import { rejections, settleWithLimit } from '../limit';
import { restorePolicy } from '../restore-policy';
import type { VmStatus } from '../status';
import type { StepTimeouts } from '../step-timeouts';
import type { RunTracker } from '../tracker';
import type { WriteThroughGuard } from './write-through-guard';

/** How long one flush-polling activity runs before it reports progress to the workflow. */
const progressReportMs = 5_000;

export function runLocalGuard(
  tracker: RunTracker,
  steps: StepProxies,
  flush: ProtectedBackupInput['flush'],
  timeouts: StepTimeouts,
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
      const after = await CancellationScope.nonCancellable(() => steps.fvp.setWriteThrough({ vm: vm.vm }));
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
      const states = await steps.fvp.waitForFlush({
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
    tracker.step(vm, 'restoring');
    const outcome = await restorePolicy(steps.restore, vm.vm, recorded, timeouts, {
      attempt: () => vm.restoreAttempts++,
      failed: (message) => {
        vm.lastError = message;
        tracker.step(vm, 'restore-failing');
      },
    });
    if (outcome.kind === 'changed-by-someone-else') {
      vm.lastError = outcome.message;
      tracker.warn(
        `${vm.vm}: its policy was changed during the run; kept as changed, not restored (${outcome.message})`,
      );
      tracker.step(vm, 'kept-change');
      return;
    }
    if (outcome.kind !== 'restored') return; // the other outcomes need options this guard never passes
    vm.effective = outcome.policy.effective;
    vm.lastError = null;
    tracker.step(vm, 'restored');
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
