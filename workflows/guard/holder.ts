/**
 * The run's side of the per-VM guard: a WriteThroughGuard whose protect/release go through one
 * `vmGuard` entity workflow per VM (see entity.ts) instead of switching the VMs itself, so that
 * overlapping runs sharing a VM never restore write-back while another still reads it.
 *
 *   protect  asks the worker for its FVP server (the `vmGuardSettings` local activity: guard ids
 *            are `vm-guard-uuid/<fvp server>/<vm uuid>` since GUARD_BY_UUID, see below, and
 *            `vm-guard/<fvp server>/<vm>` before), sends `acquire` to each VM's guard (the
 *            `signalVmGuards` local activity: signal-with-start, which workflow code cannot do),
 *            and waits for every `granted` reply (sent once the flush is verified) until the run's
 *            flush deadline; the guard's recorded policy replaces what this run read, since a VM
 *            another run holds reads "write-through" now.
 *   release  sends `release` to every guard it asked, shielded from cancellation, and waits for
 *            the answers: `restored` when it was the last holder, `released` when others still hold
 *            the VM. A request that is not answered within FVPB_GUARD_RESEND_INTERVAL is sent again
 *            (idempotent): a guard that was terminated meanwhile is restarted by it and adopts its
 *            predecessor's record.
 *
 * The status query keeps showing per-VM steps: switching (asked) → flushing (guard's progress) →
 * flushed (granted) → restoring → restored, or released (others still hold it), or restore-failing.
 *
 * Since the patch RESTORE_TERMINAL_OUTCOMES a release can end without a restore, so that a VM that
 * can no longer be restored never keeps the run (and, through the schedule's SKIP overlap, every
 * later run of its job) open:
 * - the guard answers `released` with `outcome` 'vm-gone' or 'not-accelerated' (nothing left in
 *   write-through on FVP): the VM's step says so and the run warns (it completes with warnings);
 * - a VM whose guard still answers `restore-failing` `timeouts.restoreHandOverAfter` after its first
 *   such answer (HAND_OVER_BY_TIME; before it, at the HAND_OVER_AFTER_ATTEMPTS-th attempt) is no longer
 *   waited for: the step is 'restore-handed-over', the guard keeps restoring alone (its phase and
 *   memo show it), and the run fails as RestoreHandedOver naming the VM (protected-backup.ts),
 *   unless it already failed for another reason. A later `released` from that guard is still taken.
 *
 * Since the patch GUARD_BY_UUID a VM's guard is keyed on its FVP uuid (read by resolveVms), not on
 * its name, so a VM renamed in vCenter during or between runs keeps its guard and its record; the
 * acquire and the guard's start carry the uuid, and the guard addresses the VM by it. Before the
 * first acquire, `routeGuards` (activities/guard-routing.ts) says for each VM whether a name-keyed
 * guard of an older worker is Running: that guard keeps holding it (this run joins it), else the
 * uuid-keyed id. The choice is the Held entry's guardId, which every release goes to. Replies are
 * matched by guardId: a guard that followed a rename answers with the new name, and the run keeps
 * showing the name it resolved.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  log,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { durationMs } from '../../domain/duration';
import {
  GuardReply,
  guardIdFor,
  vmGuardReplySignal,
  type GuardDelivery,
  type GuardRequest,
  type GuardSettings,
  type Requester,
} from '../../domain/guard-protocol';
import {
  GUARD_REQUESTS_AS_ACTIVITIES,
  guardMessengers,
  guardRouting,
  localGuardMessengers,
  vmGuardSettings,
} from '../activity-proxies';
import { FailureType } from '../failures';
import type { ProtectedBackupInput } from '../input';
import type { VmStatus } from '../status';
import { guardTimeoutsOf } from '../step-timeouts';
import type { RunTracker } from '../tracker';
import type { WriteThroughGuard } from './write-through-guard';
import { RESTORE_TERMINAL_OUTCOMES } from '../restore-policy';

/**
 * Runs from before HAND_OVER_BY_TIME (replayed only): after how many failed restore attempts (as the
 * guard counts them: each is three quick activity tries, and the pause between two doubles from
 * retryInitialInterval up to restoreMaxInterval) a run stopped waiting for a VM and left its
 * restore to the guard alone. Ten was about 4 to 5 minutes with the default timeouts: long enough
 * to ride out a management-server restart without failing the run (and paging someone) for a
 * restore its guard completes a moment later, and far shorter than the hours between two
 * scheduled backups of the job, which the hand-over must not block. `restoreHandOverAfter`
 * defaults to 5 minutes for the same reasons.
 */
export const HAND_OVER_AFTER_ATTEMPTS = 10;

/**
 * The patch under which the hand-over comes after a time, the run's `timeouts.restoreHandOverAfter`
 * counted from the guard's first `restore-failing` reply, instead of after HAND_OVER_AFTER_ATTEMPTS
 * attempts, whose length in time depended on the other timeouts. Asked at the first such reply, so
 * that only runs whose restore failed carry its marker.
 */
export const HAND_OVER_BY_TIME = 'hand-over-by-time';

/**
 * The patch under which guards are keyed on the VM's FVP uuid and a canonical server, and every
 * guard call addresses the VM by uuid (see the header). Asked once at the start of every run
 * (protected-backup.ts), so that its marker is at the same point in every new history.
 */
export const GUARD_BY_UUID = 'guard-by-uuid';

interface Held {
  vm: VmStatus;
  guardId: string;
  /** handed-over: no longer waited for; its guard keeps restoring alone (RESTORE_TERMINAL_OUTCOMES). */
  state: 'acquiring' | 'granted' | 'refused' | 'releasing' | 'released' | 'handed-over';
  refusal?: { message: string; type: string };
  /** The release this run sent early (releaseEarly), sent again as is by `release` until answered. */
  release?: GuardRequest;
  /** Workflow time (ms) of the guard's first `restore-failing` reply to this run: the hand-over counts from it. */
  failingSince?: number;
}

export function runVmGuardHolder(tracker: RunTracker, input: ProtectedBackupInput, byUuid: boolean): WriteThroughGuard {
  const info = workflowInfo();
  const me: Requester = { workflowId: info.workflowId, runId: info.runId, firstRunId: info.firstExecutionRunId };
  const timeouts = guardTimeoutsOf(input);
  const held = new Map<string, Held>();
  let settings: GuardSettings | undefined;
  /** Asked once in `release` (RESTORE_TERMINAL_OUTCOMES): whether a restore that keeps failing is handed over. */
  let handOver = false;
  /** Asked at the first `restore-failing` reply (HAND_OVER_BY_TIME): whether the hand-over comes after a time. */
  let handOverByTime: boolean | undefined;
  const handOverAfterMs = durationMs(input.timeouts.restoreHandOverAfter);
  /** A restore that keeps failing is due for the hand-over: after a time since its first failure, or (older histories) a count. */
  function handOverDue(entry: Held, attempts: number): boolean {
    if (!handOver) return false;
    handOverByTime ??= patched(HAND_OVER_BY_TIME);
    if (!handOverByTime) return attempts >= HAND_OVER_AFTER_ATTEMPTS;
    return Date.now() - (entry.failingSince as number) >= handOverAfterMs;
  }

  // Always called, at the same point: new runs record the marker, older histories replay without it.
  const messengers = patched(GUARD_REQUESTS_AS_ACTIVITIES) ? guardMessengers(timeouts) : localGuardMessengers(timeouts);

  setHandler(vmGuardReplySignal, (raw: unknown) => {
    const parsed = GuardReply.safeParse(raw);
    if (!parsed.success || parsed.data.firstRunId !== me.firstRunId) return;
    const reply = parsed.data;
    const entry = held.get(reply.guardId);
    if (!entry) return;
    const vm = entry.vm;
    switch (reply.kind) {
      case 'progress':
        if (entry.state !== 'acquiring') return;
        vm.effective = reply.state.effective;
        vm.timeToDestageSeconds = reply.state.timeToDestageSeconds;
        if (vm.step !== 'flushing') tracker.step(vm, 'flushing');
        else tracker.publish();
        return;
      case 'granted':
        if (entry.state !== 'acquiring') return;
        entry.state = 'granted';
        // The guard's record is the truth: this run may have read a VM another run had switched.
        vm.recorded = reply.recorded;
        vm.alreadyWriteThrough = reply.alreadyWriteThrough;
        vm.effective = reply.state.effective;
        vm.timeToDestageSeconds = reply.state.timeToDestageSeconds;
        vm.sharedWith = reply.holders - 1;
        tracker.step(vm, 'flushed');
        return;
      case 'drift':
        if (entry.state !== 'granted') return;
        vm.drift = reply.message;
        vm.effective = reply.state.effective;
        vm.timeToDestageSeconds = reply.state.timeToDestageSeconds;
        tracker.warn(`${vm.vm}: ${reply.message}; its backup may not be consistent`);
        return;
      case 'refused':
        if (entry.state !== 'acquiring') return;
        entry.state = 'refused';
        entry.refusal = { message: reply.message, type: reply.type };
        vm.lastError = reply.message;
        return;
      case 'restore-failing':
        if (entry.state !== 'releasing') return;
        vm.restoreAttempts = reply.attempts;
        vm.lastError = reply.lastError;
        entry.failingSince ??= Date.now();
        if (handOverDue(entry, reply.attempts)) {
          entry.state = 'handed-over';
          const seconds = Math.round((Date.now() - entry.failingSince) / 1000);
          tracker.warn(
            `${vm.vm}: its restore failed ${reply.attempts} times in ${seconds} s (${reply.lastError}); the VM is still in ` +
              `write-through and its guard ${entry.guardId} keeps restoring it alone (fvpb guard status)`,
          );
          tracker.step(vm, 'restore-handed-over');
          return;
        }
        tracker.step(vm, 'restore-failing');
        return;
      case 'released':
        // A handed-over VM's guard may still restore it while the run waits for others: taken.
        if (entry.state !== 'releasing' && entry.state !== 'handed-over') return;
        entry.state = 'released';
        vm.sharedWith = reply.holders;
        vm.restoreAttempts = reply.restoreAttempts;
        if (reply.policy) vm.effective = reply.policy.effective;
        if (reply.leftAlone) return; // already write-through before: verified, left alone
        if (reply.outcome !== undefined) {
          // By name (guards before GUARD_BY_UUID): a VM renamed during the run is "gone" too, and
          // still in write-through under its new name. By uuid a rename is followed: it is gone.
          vm.lastError =
            reply.outcome === 'vm-gone'
              ? byUuid
                ? 'FVP no longer knows a VM of this name nor of its uuid (deleted, or removed from FVP): its ' +
                  'policy was not restored, nothing of it is in write-through on FVP'
                : 'FVP no longer knows a VM of this name (deleted, removed from FVP, or renamed): its policy was ' +
                  'not restored; if it was renamed, it is still in write-through under its new name'
              : 'it is no longer accelerated by FVP (not in an FVP cluster): its policy was not restored, ' +
                'nothing of it is in write-through on FVP';
          tracker.warn(`${vm.vm}: ${vm.lastError}; check the VM and its backup`);
          tracker.step(vm, reply.outcome === 'vm-gone' ? 'gone' : 'not-accelerated');
          return;
        }
        if (reply.keptChange !== undefined) {
          vm.lastError = reply.keptChange;
          tracker.warn(
            `${vm.vm}: its policy was changed during the run; kept as changed, not restored (${reply.keptChange})`,
          );
          tracker.step(vm, 'kept-change');
          return;
        }
        if (reply.restored) {
          vm.lastError = null;
          tracker.step(vm, 'restored');
        } else {
          tracker.step(vm, 'released');
        }
        return;
      case 'reconciled':
        return;
    }
  });

  async function guardSettings(): Promise<GuardSettings> {
    settings ??= await vmGuardSettings();
    return settings;
  }

  function delivery(entry: Held, request: GuardRequest, fvpServer: string): GuardDelivery {
    const uuid = byUuid ? entry.vm.uuid : undefined;
    return { guardId: entry.guardId, vm: entry.vm.vm, fvpServer, ...(uuid === undefined ? {} : { uuid }), request };
  }

  /**
   * Each VM's guard id: the name-keyed one of older runs, or since GUARD_BY_UUID the uuid-keyed one
   * unless the VM's name-keyed guard runs (activities/guard-routing.ts). A VM whose uuid the run
   * did not read fails the run before anything is changed: it never falls back to its name.
   */
  async function guardIdsOf(vms: VmStatus[], fvpServer: string): Promise<Map<VmStatus, string>> {
    if (!byUuid) return new Map(vms.map((vm) => [vm, guardIdFor(fvpServer, vm.vm)]));
    const unknown = vms.filter((vm) => vm.uuid === undefined);
    if (unknown.length > 0) {
      throw ApplicationFailure.nonRetryable(
        `the FVP uuid of ${unknown.map((vm) => JSON.stringify(vm.vm)).join(', ')} was not read; ` +
          'its guard is keyed on it; nothing was changed',
        FailureType.unknownVm,
      );
    }
    // Two names, one uuid (a clone that kept its instance uuid?): one guard cannot tell them apart.
    const twins = vms.filter((vm, i) => vms.findIndex((other) => other.uuid === vm.uuid) !== i);
    if (twins.length > 0) {
      throw ApplicationFailure.nonRetryable(
        `${twins.map((vm) => JSON.stringify(vm.vm)).join(', ')} share${twins.length === 1 ? 's' : ''} an FVP uuid ` +
          'with another VM of this run; nothing was changed',
        FailureType.unknownVm,
      );
    }
    const routes = await guardRouting.routeGuards({
      fvpServer,
      vms: vms.map((vm) => ({ vm: vm.vm, uuid: vm.uuid as string })),
    });
    return new Map(
      vms.map((vm, i) => {
        const route = routes[i];
        // Answered in the order asked; anything else is a bug, and no guess is made.
        if (route === undefined || route.uuid !== vm.uuid)
          throw new Error(`routeGuards answered out of order for ${vm.vm}`);
        if (route.legacy) log.info('held through its running name-keyed guard', { vm: vm.vm, guardId: route.guardId });
        return [vm, route.guardId];
      }),
    );
  }

  /**
   * A granted VM's release carries the guard's record: a successor that cannot see its
   * terminated predecessor yet adopts it instead of taking write-through for the VM's own.
   */
  function releaseOf(entry: Held, granted: boolean): GuardRequest {
    const recorded = granted ? entry.vm.recorded : null;
    return recorded
      ? { kind: 'release', requester: me, record: { recorded, alreadyWriteThrough: entry.vm.alreadyWriteThrough } }
      : { kind: 'release', requester: me };
  }

  return {
    async protect(vms) {
      tracker.phase('switching-to-write-through');
      const deadline = Date.now() + durationMs(input.flush.deadline);
      const { fvpServer, resendIntervalMs } = await guardSettings();
      const guardIds = await guardIdsOf(vms, fvpServer);
      for (const vm of vms) {
        if (CancellationScope.current().consideredCancelled) break;
        const guardId = guardIds.get(vm) as string;
        vm.guardId = guardId;
        // Marked before the request goes out: a cancel from here on still releases it.
        held.set(guardId, { vm, guardId, state: 'acquiring' });
        tracker.step(vm, 'switching');
      }
      const acquireOf = (entry: Held): GuardRequest => {
        const uuid = byUuid ? entry.vm.uuid : undefined;
        return { kind: 'acquire', requester: me, job: input.job, timeouts, ...(uuid === undefined ? {} : { uuid }) };
      };
      const waiting = () => [...held.values()].filter((e) => e.state === 'acquiring');
      const refused = () => [...held.values()].find((e) => e.state === 'refused');

      await messengers.request.signalVmGuards({
        deliveries: waiting().map((e) => delivery(e, acquireOf(e), fvpServer)),
      });
      tracker.phase('verifying-flush');
      for (;;) {
        const remainingMs = deadline - Date.now();
        const settled =
          remainingMs > 0 &&
          (await condition(
            () => waiting().length === 0 || refused() !== undefined,
            Math.min(remainingMs, resendIntervalMs),
          ));
        const refusal = refused();
        if (refusal?.refusal) {
          throw ApplicationFailure.nonRetryable(refusal.refusal.message, refusal.refusal.type);
        }
        if (settled) return;
        const pending = waiting();
        if (Date.now() >= deadline) {
          const names = pending.map(
            ({ vm }) =>
              `${JSON.stringify(vm.vm)} (effective ${vm.effective}, ${vm.timeToDestageSeconds ?? '?'} s left to destage)`,
          );
          throw ApplicationFailure.nonRetryable(
            `not flushed within ${String(input.flush.deadline)}: ${names.join(', ')}; no backup was started`,
            FailureType.flushTimeout,
          );
        }
        // No answer yet: the guard may have been restarted; asking again is harmless.
        await messengers.request.signalVmGuards({
          deliveries: pending.map((e) => delivery(e, acquireOf(e), fvpServer)),
        });
      }
    },

    async release() {
      const entries = [...held.values()].filter((e) => e.state !== 'released');
      if (entries.length === 0) return;
      tracker.phase('restoring');
      // Always asked at the same point (every run releases): older histories wait for every VM.
      handOver = patched(RESTORE_TERMINAL_OUTCOMES);
      await CancellationScope.nonCancellable(async () => {
        const { fvpServer, resendIntervalMs } = await guardSettings();
        // One released early was sent its release already: it is only waited for, and sent again
        // only if unanswered after a resend interval (a second release could reach its guard after
        // it closed, and start a successor for nothing).
        const unsent = entries.filter((e) => e.release === undefined);
        for (const entry of unsent) {
          entry.release = releaseOf(entry, entry.state === 'granted');
          entry.state = 'releasing';
          if (!entry.vm.alreadyWriteThrough) tracker.step(entry.vm, 'restoring');
        }
        const releasing = () => entries.filter((e) => e.state === 'releasing');
        let sending = unsent;
        for (;;) {
          if (sending.length > 0) {
            await messengers.release.signalVmGuards({
              deliveries: sending.map((e) => delivery(e, e.release as GuardRequest, fvpServer)),
            });
          }
          if (await condition(() => releasing().length === 0, resendIntervalMs)) return;
          sending = releasing();
        }
      });
    },

    async releaseEarly(vms) {
      const names = new Set(vms.map((vm) => vm.vm));
      const entries = [...held.values()].filter((e) => e.state === 'granted' && names.has(e.vm.vm));
      if (entries.length === 0) return [];
      for (const entry of entries) {
        entry.release = releaseOf(entry, true);
        entry.state = 'releasing'; // from here on, `release` only waits for (and resends) this one
        if (!entry.vm.alreadyWriteThrough) tracker.step(entry.vm, 'restoring');
      }
      // Sent once here; a lost one is sent again by `release`, which waits for every answer.
      await CancellationScope.nonCancellable(async () => {
        const { fvpServer } = await guardSettings();
        await messengers.release.signalVmGuards({
          deliveries: entries.map((e) => delivery(e, e.release as GuardRequest, fvpServer)),
        });
      });
      return entries.map((e) => e.vm);
    },
  };
}
