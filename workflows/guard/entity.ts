/**
 * vmGuard: one entity workflow per FVP server and VM (id `vm-guard-uuid/<fvp server>/<vm uuid>`
 * since the `guard-by-uuid` patch, `vm-guard/<fvp server>/<vm>` before it), the only
 * writer of that VM's caching policy for protected backups. Runs that share a VM (a VM in two
 * Veeam jobs, a manual run during a scheduled one) hold it through its guard:
 *
 *   acquire  the first holder's acquire records the VM's requested policy and switches it to
 *            write-through; every holder is answered `granted` only once the flush is verified.
 *   release  only the last holder's release restores exactly the recorded policy (verified,
 *            never giving up: restore-policy.ts), and then the guard completes.
 *
 * This file is the thin workflow: handlers, the main loop and continue-as-new. Decisions live in
 * the state class (state.ts), calls to FVP, Veeam and Temporal in steps.ts; the contract (signals,
 * query, memo) in domain/guard-protocol.ts. Runs talk to it through holder.ts.
 *
 * What Temporal will not do for us, and what covers it:
 * - A holder that closes without releasing (terminated, timed out, reset away) is noticed by a
 *   periodic check (every FVPB_GUARD_CHECK_INTERVAL) and dropped. Holders are keyed by workflow id
 *   + first run id, which Reset keeps. When a dropped holder had been granted, its Veeam job may
 *   still read the disks: the restore waits until that job has no live session.
 * - The guard itself may be terminated. Its record survives in its memo (upserted whenever it
 *   changes). A fresh guard adopts the memo of the newest closed run of its id when that run did
 *   not clean up, so the VM gets its recorded policy back, never "write-through". The reconciler
 *   (reconcile-policies.ts) starts such successors for guards nobody asks for any more.
 * - A Cancel request is ignored (everything runs in a non-cancellable scope): cancelling the guard
 *   would strand its holders. Terminate it if you must; do not Reset it (holders that joined after
 *   the reset point are known again only once they resend, every FVPB_GUARD_RESEND_INTERVAL).
 *
 * History stays bounded: the guard completes when nobody holds the VM, and continues as new (state
 * and unprocessed requests carried, handlers finished, replies sent) beyond FVPB_GUARD_HISTORY_LIMIT
 * events or when Temporal suggests it.
 */
import {
  CancellationScope,
  allHandlersFinished,
  condition,
  ContinueAsNew,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  patched,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  VmGuardInput,
  vmGuardReplySignal,
  vmGuardRequestSignal,
  vmGuardStateQuery,
  type GuardReply,
  type VmGuardResult,
} from '../../domain/guard-protocol';
import { PHASE_ATTRIBUTE, RESTORE_PENDING_ATTRIBUTE, VMS_ATTRIBUTE } from '../../domain/search-attributes';
import { OPERATOR_VISIBILITY, vmGuardSettings } from '../activity-proxies';
import { asApplicationFailure, messageOf } from '../failures';
import { parseWorkflowInput } from '../parse-input';
import { freshGuardState } from './record';
import type { GuardPorts } from './answers';
import { VmGuard } from './state';
import {
  checkHolders,
  endHold,
  GUARD_LEAN_FLUSH,
  protectRound,
  recordPolicy,
  unknownVmFailure,
  watchForDrift,
  type GuardRuntime,
} from './steps';

/** The patch under which a protecting guard reads its VM's flush state at every holder check. */
const GUARD_WATCHES_DRIFT = 'guard-watches-drift';
/**
 * The patch under which a reply that cannot be delivered ends the wait of its requester: a run
 * that handed its release over has closed, and its guard, still restoring, stops replying
 * `restore-failing` to it at every attempt.
 */
export const FORGET_CLOSED_WAITERS = 'forget-closed-waiters';

export async function vmGuard(input: VmGuardInput): Promise<VmGuardResult> {
  const { vm, fvpServer, uuid, carried } = parseWorkflowInput(VmGuardInput, input, 'vmGuard');
  const guardId = workflowInfo().workflowId;

  // Always asked at the same point: guards since the patch keep their search attributes up to date
  // with their memo (domain/search-attributes.ts): the VM, the phase, and whether a restore is owed.
  const searchable = patched(OPERATOR_VISIBILITY);
  // Always asked at the same point, right after it: guards since the patch take fewer workflow
  // tasks and activities on the way to a grant (steps.ts).
  const leanFlush = patched(GUARD_LEAN_FLUSH);
  // Replies in flight: awaited before continuing as new or completing.
  const outstanding = new Set<Promise<void>>();
  const ports: GuardPorts = {
    reply(to, message) {
      // The VM's current name (a renamed VM's new one): runs match replies by guardId, not by name.
      const full = { ...message, guardId, vm: guard.state.vm, firstRunId: to.firstRunId } as GuardReply;
      // No run id: a holder that was reset lives on in a new run of the same workflow id.
      const sent = getExternalWorkflowHandle(to.workflowId)
        .signal(vmGuardReplySignal, full)
        .catch((err: unknown) => {
          // The requester is gone (closed): the holder check drops it.
          log.warn('vmGuard: reply not delivered', { to: to.workflowId, kind: full.kind, error: messageOf(err) });
          guard.checkRequested = true;
          // Asked only here, where a reply failed: histories from before the patch replay the
          // replies they kept sending; guards that never fail a reply carry no marker for it.
          if (patched(FORGET_CLOSED_WAITERS)) guard.forgetWaiter(to);
        });
      outstanding.add(sent);
      void sent.finally(() => outstanding.delete(sent));
    },
    upsertMemo(memo) {
      upsertMemo(memo as unknown as Record<string, unknown>);
      if (!searchable) return;
      upsertSearchAttributes([
        { key: VMS_ATTRIBUTE, value: [memo.vm] }, // the current name: a rename is found under it
        { key: PHASE_ATTRIBUTE, value: memo.record.phase },
        { key: RESTORE_PENDING_ATTRIBUTE, value: memo.record.writeThrough },
      ]);
    },
  };
  const guard = new VmGuard(guardId, carried ?? freshGuardState(vm, fvpServer, uuid), carried !== undefined, ports);
  guard.leanFlush = leanFlush;

  setHandler(vmGuardRequestSignal, (raw: unknown) => guard.receive(raw));
  setHandler(vmGuardStateQuery, () => guard.state);

  async function repliesSent(): Promise<void> {
    while (outstanding.size > 0) await Promise.all([...outstanding]);
  }

  const runtime: GuardRuntime = {
    async continueIfLong() {
      const info = workflowInfo();
      if (info.historyLength < (guard.settings?.historyLimit ?? Infinity) && !info.continueAsNewSuggested) return;
      await repliesSent();
      await condition(allHandlersFinished);
      guard.state.counts.continuedAsNew++;
      guard.syncMemo();
      // The inbox goes along: requests that arrived and were not processed yet are not lost.
      // The VM's current name and uuid: the next run starts where this one's state is.
      const { vm: current, uuid: known } = guard.state;
      await continueAsNew<typeof vmGuard>({
        vm: current,
        fvpServer,
        ...(known === undefined ? {} : { uuid: known }),
        carried: guard.state,
      });
    },
  };

  try {
    return await CancellationScope.nonCancellable(() => run(guard, runtime, repliesSent, carried !== undefined));
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    // A bug must close the guard (its memo keeps the record for a successor), not retry its task forever.
    throw asApplicationFailure(err, [guard.state]);
  }
}

async function run(
  guard: VmGuard,
  rt: GuardRuntime,
  repliesSent: () => Promise<void>,
  carried: boolean,
): Promise<VmGuardResult> {
  const guardState = guard.state;
  const settings = await vmGuardSettings();
  guard.useSettings(settings);
  guard.nextCheckAt = Date.now() + settings.holderCheckIntervalMs;
  if (!carried) {
    // The request that started the guard brings the timeouts to read with; it is processed only
    // after the record (a predecessor's holders, adopted, must not undo a release queued here).
    const first = guardState.inbox.find((r) => r.kind === 'acquire' || r.kind === 'reconcile');
    if (first && 'timeouts' in first && !guard.settings?.timeouts) guardState.timeouts = first.timeouts;
    const outcome = await recordPolicy(guard, true, rt);
    guard.establish();
    if (outcome === 'unknown-vm') {
      guard.drain();
      guard.refuseUnknownVm(unknownVmFailure(guardState.vm));
      await repliesSent();
      guard.phase('done');
      return guard.result();
    }
  }
  guard.syncMemo();

  for (;;) {
    await rt.continueIfLong();
    guard.drain();
    if (guardState.recorded === null && (guardState.holders.length > 0 || guardState.waiters.length > 0)) {
      guard.phase('starting');
      if ((await recordPolicy(guard, false, rt)) === 'unknown-vm') {
        guard.refuseUnknownVm(unknownVmFailure(guardState.vm));
        continue;
      }
      guard.syncMemo();
    }
    if (guard.checkRequested || (guardState.holders.length > 0 && Date.now() >= guard.nextCheckAt)) {
      await checkHolders(guard);
      // Always asked at the same point; histories from before the patch replay without the read.
      if (guard.isProtecting() && patched(GUARD_WATCHES_DRIFT)) await watchForDrift(guard);
    }
    guard.answerReconcilesWhileHeld();

    if (guard.needsProtectRound()) {
      await protectRound(guard);
      continue;
    }
    if (guardState.holders.length > 0) {
      guard.phase('protected');
      guard.syncMemo();
      await condition(
        () => guardState.inbox.length > 0 || guard.checkRequested,
        Math.max(1, guard.nextCheckAt - Date.now()),
      );
      continue;
    }

    // Nobody holds the VM: end the hold (wait for abandoned jobs, restore), answer, and complete.
    const owedRestore = guard.owesRestore;
    if (!(await endHold(guard, rt))) continue;
    guard.answerWaiters(owedRestore);
    guard.idle();
    await repliesSent();
    if (guardState.inbox.length > 0) continue;
    await condition(allHandlersFinished);
    if (guardState.inbox.length > 0) continue;
    guard.phase('done');
    return guard.result();
  }
}
