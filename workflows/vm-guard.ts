/**
 * vmGuard: one entity workflow per FVP server and VM (id `vm-guard/<fvp server>/<vm>`), the only
 * writer of that VM's caching policy for protected backups. Runs that share a VM (a VM in two
 * Veeam jobs, a manual run during a scheduled one) hold it through its guard:
 *
 *   acquire  the first holder's acquire records the VM's requested policy and switches it to
 *            write-through; every holder is answered `granted` only once the flush is verified
 *            (later holders are re-verified once, then granted).
 *   release  a holder lets go; only the last holder's release restores exactly the recorded
 *            policy (verified, retries never give up), and then the guard completes.
 *
 * How runs talk to it: a run cannot signal-with-start another workflow from workflow code, so its
 * requests go out through the `signalVmGuards` (local) activity, which signal-with-starts the guard
 * with the worker's Client; the guard answers with external-workflow signals (`vmGuard.reply`) to
 * the requester's workflow id. Requests are queued by the signal handler and processed only by the
 * main loop, in order.
 *
 * What Temporal will not do for us, and what covers it:
 * - A holder that closes without releasing (terminated, timed out, reset away) is noticed by a
 *   periodic check (`describeHolders`, every FVPB_GUARD_CHECK_INTERVAL) and dropped. Holders are
 *   keyed by workflow id + first run id, which Reset keeps: a reset run still holds. When a dropped
 *   holder had been granted, its Veeam job may still read the disks: the restore waits until that
 *   job has no live session.
 * - The guard itself may be terminated. Its record survives in its memo (upserted whenever it
 *   changes; `writeThrough` is set before the switch is sent and cleared only after the verified
 *   restore). A guard that starts fresh adopts the memo of the newest closed run of its id when that
 *   run did not clean up, so the VM gets its recorded policy back, never "write-through". The
 *   reconciler (reconcilePolicies) starts such successors for guards nobody asks for any more.
 * - A Cancel request is ignored (everything runs in a non-cancellable scope): cancelling the guard
 *   would strand its holders. Terminate it if you must: a successor adopts its record (when a
 *   holder asks again, or when the reconciler comes by). Do not Reset a guard: the new run resumes
 *   from an older state, and holders that joined after the reset point are known again only once
 *   they ask again (their acquire or release is resent every FVPB_GUARD_RESEND_INTERVAL while it
 *   waits; a run that already holds the VM does not ask until it releases).
 *
 * History stays bounded: the guard completes when nobody holds the VM, and continues as new (state
 * and unprocessed requests carried, handlers finished, replies sent) beyond FVPB_GUARD_HISTORY_LIMIT
 * events or when Temporal suggests it.
 */
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  ContinueAsNew,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { FlushState, VmPolicy } from '../domain/policy';
import { isFlushed } from '../domain/policy';
import { activityProxies } from './activity-proxies';
import { asApplicationFailure, FailureType, messageOf, typeOf } from './failures';
import { describeZodError } from '../domain/zod-issues';
import {
  GuardMemo,
  GuardRequest,
  GuardState,
  VmGuardInput,
  vmGuardReplySignal,
  vmGuardRequestSignal,
  vmGuardStateQuery,
  type GuardPhase,
  type GuardReply,
  type GuardSettings,
  type GuardTimeouts,
  type Holder,
  type Requester,
  type VmGuardResult,
} from '../domain/guard-protocol';
import { defaultGuardTimeouts, proxyTimeouts } from './vm-guard-timeouts';

/** How long one flush-polling activity runs before the guard looks at its requests again. */
const FLUSH_ROUND_MS = 2_000;

const temporalActs = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200ms', maximumInterval: '5 seconds', maximumAttempts: 5 },
});
const localActs = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200ms', maximumInterval: '5 seconds' },
});

const now = (): string => new Date(Date.now()).toISOString();

function freshState(vm: string, fvpServer: string): GuardState {
  return {
    vm,
    fvpServer,
    phase: 'starting',
    recorded: null,
    alreadyWriteThrough: false,
    writeThrough: false,
    flushed: false,
    holders: [],
    waiters: [],
    abandonedJobs: [],
    inbox: [],
    timeouts: null,
    lastFlush: null,
    restoreAttempts: 0,
    lastError: null,
    adoptedFrom: null,
    counts: {
      acquires: 0,
      releases: 0,
      switches: 0,
      restores: 0,
      droppedHolders: 0,
      rejectedMessages: 0,
      continuedAsNew: 0,
    },
  };
}

const sameRun = (a: { workflowId: string; firstRunId: string }, b: { workflowId: string; firstRunId: string }) =>
  a.workflowId === b.workflowId && a.firstRunId === b.firstRunId;

export async function vmGuard(input: VmGuardInput): Promise<VmGuardResult> {
  const parsed = VmGuardInput.safeParse(input);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `invalid vmGuard input: ${describeZodError(parsed.error)}`,
      FailureType.invalidInput,
    );
  }
  const { vm, fvpServer, carried } = parsed.data;
  const guardId = workflowInfo().workflowId;
  const s: GuardState = carried ?? freshState(vm, fvpServer);

  setHandler(vmGuardRequestSignal, (raw: unknown) => {
    const request = GuardRequest.safeParse(raw);
    if (request.success) s.inbox.push(request.data);
    else s.counts.rejectedMessages++;
  });
  setHandler(vmGuardStateQuery, () => s);

  // Replies in flight: awaited before continuing as new or completing.
  const outstanding = new Set<Promise<void>>();
  let checkRequested = carried !== undefined; // a fresh run of a long hold checks its holders at once
  let settings: GuardSettings;
  let nextCheckAt = 0;
  let lastMemo = '';
  let established = carried !== undefined;
  let lastPolicy: VmPolicy | null = null;

  const timeouts = (): GuardTimeouts => s.timeouts ?? defaultGuardTimeouts();
  const fvp = () => activityProxies(proxyTimeouts(timeouts()));

  function phase(next: GuardPhase): void {
    s.phase = next;
  }

  function syncMemo(): void {
    // Until its first record (or adoption), a fresh guard keeps the bare memo it was started with:
    // a successor looking for a record to adopt skips it and looks further back.
    if (!established) return;
    const memo: GuardMemo = {
      kind: 'vm-guard',
      vm: s.vm,
      fvpServer: s.fvpServer,
      record: {
        recorded: s.recorded,
        alreadyWriteThrough: s.alreadyWriteThrough,
        writeThrough: s.writeThrough,
        holders: s.holders,
        abandonedJobs: s.abandonedJobs,
        phase: s.phase,
      },
    };
    const text = JSON.stringify(memo);
    if (text === lastMemo) return;
    lastMemo = text;
    upsertMemoSafe(memo);
  }

  function reply(to: Requester | Holder, message: DistributiveOmit<GuardReply, 'guardId' | 'vm' | 'firstRunId'>): void {
    const full = { ...message, guardId, vm: s.vm, firstRunId: to.firstRunId } as GuardReply;
    // No run id: a holder that was reset lives on in a new run of the same workflow id.
    const sent = getExternalWorkflowHandle(to.workflowId)
      .signal(vmGuardReplySignal, full)
      .catch((err: unknown) => {
        // The requester is gone (closed): the holder check drops it.
        log.warn('vmGuard: reply not delivered', { to: to.workflowId, kind: full.kind, error: messageOf(err) });
        checkRequested = true;
      });
    outstanding.add(sent);
    void sent.finally(() => outstanding.delete(sent));
  }

  async function repliesSent(): Promise<void> {
    while (outstanding.size > 0) await Promise.all([...outstanding]);
  }

  // ---- requests -------------------------------------------------------------------------------

  function drain(): void {
    while (s.inbox.length > 0) {
      const request = s.inbox.shift() as GuardRequest;
      switch (request.kind) {
        case 'acquire': {
          s.counts.acquires++;
          if (s.holders.length === 0 && !s.writeThrough) s.timeouts = request.timeouts;
          s.timeouts ??= request.timeouts;
          const known = s.holders.find((h) => sameRun(h, request.requester));
          if (known) {
            // A resent acquire: the first answer was lost (or the guard restarted). Answer again
            // if the flush is verified now; else the next round verifies and grants it.
            known.runId = request.requester.runId;
            if (known.granted && s.flushed) grant(known);
            else known.granted = false;
          } else {
            s.holders.push({ ...request.requester, job: request.job, since: now(), granted: false });
          }
          break;
        }
        case 'release': {
          s.counts.releases++;
          s.holders = s.holders.filter((h) => !sameRun(h, request.requester));
          if (s.holders.length > 0) {
            reply(request.requester, {
              kind: 'released',
              restored: false,
              leftAlone: s.alreadyWriteThrough,
              holders: s.holders.length,
              policy: null,
              restoreAttempts: 0,
            });
          } else if (!s.waiters.some((w) => w.kind === 'release' && sameRun(w.requester, request.requester))) {
            s.waiters.push({ kind: 'release', requester: request.requester });
          }
          break;
        }
        case 'reconcile':
          s.timeouts ??= request.timeouts;
          checkRequested = true;
          s.waiters.push({ kind: 'reconcile', requester: request.requester });
          break;
        case 'check':
          checkRequested = true;
          break;
      }
    }
    syncMemo();
  }

  function grant(holder: Holder): void {
    holder.granted = true;
    reply(holder, {
      kind: 'granted',
      recorded: s.recorded ?? { mode: 'WriteThrough', peers: 0, externalPeers: null },
      alreadyWriteThrough: s.alreadyWriteThrough,
      state: s.lastFlush as FlushState,
      holders: s.holders.length,
    });
  }

  /** Forward step failed for good: the holders still waiting are told why and let go. */
  function refuseWaiting(err: unknown): void {
    const message = `guard of ${JSON.stringify(s.vm)}: ${messageOf(err)}`;
    s.lastError = message;
    const type = typeOf(err) ?? FailureType.stepFailed;
    for (const holder of s.holders.filter((h) => !h.granted)) reply(holder, { kind: 'refused', message, type });
    s.holders = s.holders.filter((h) => h.granted);
    syncMemo();
  }

  // ---- recording --------------------------------------------------------------------------------

  /**
   * The policy to give back at the end of this hold: on a fresh start, the record of a predecessor
   * that did not clean up (terminated, timed out) if there is one; else the VM's requested policy
   * now. Reads until it can decide; acquirers are refused while it cannot (their runs fail as a
   * run does when FVP cannot be read), releases and reconciles wait.
   */
  async function record(fresh: boolean): Promise<'recorded' | 'unknown-vm'> {
    let pauseMs = timeouts().retryInitialMs;
    for (;;) {
      const [predecessor, policy] = await Promise.all([
        settle(fresh ? temporalActs.findGuardPredecessor({ guardId }) : Promise.resolve(null)),
        settle(fvp().forward.readCachePolicy({ vm: s.vm })),
      ]);
      const adopt = predecessor.ok && predecessor.value?.memo.record.writeThrough ? predecessor.value : null;
      const current = policy.ok ? policy.value : undefined;
      if (adopt && adopt.memo.record.recorded) {
        s.recorded = adopt.memo.record.recorded;
        s.alreadyWriteThrough = adopt.memo.record.alreadyWriteThrough;
        s.adoptedFrom = adopt.runId;
        // Still write-through (or unknown): ours to restore. Already back: nothing left to restore.
        s.writeThrough = current === undefined || current === null || current.requested.mode === 'WriteThrough';
        const releasing = [
          ...s.waiters.map((w) => w.requester),
          ...s.inbox.flatMap((r) => (r.kind === 'release' ? [r.requester] : [])),
        ];
        for (const holder of adopt.memo.record.holders) {
          if (s.holders.some((h) => sameRun(h, holder)) || releasing.some((r) => sameRun(r, holder))) continue;
          s.holders.push({ ...holder });
        }
        for (const job of adopt.memo.record.abandonedJobs)
          if (!s.abandonedJobs.includes(job)) s.abandonedJobs.push(job);
        checkRequested = true; // adopted holders may be long gone
        log.info('vmGuard: adopted the record of a guard that did not clean up', { from: adopt.runId });
        return 'recorded';
      }
      if (current === null) return 'unknown-vm';
      if (current !== undefined && (current.requested.mode === 'WriteBack' || predecessor.ok)) {
        s.recorded = current.requested;
        s.alreadyWriteThrough = current.requested.mode === 'WriteThrough';
        s.writeThrough = false;
        return 'recorded';
      }
      // Cannot decide (FVP or visibility unavailable): say so, wait, try again.
      const error = !policy.ok ? policy.error : !predecessor.ok ? predecessor.error : 'unknown';
      drain();
      refuseWaiting(error);
      await sleep(pauseMs);
      pauseMs = Math.min(pauseMs * 2, timeouts().restoreMaxIntervalMs);
      if (established) await maybeContinueAsNew();
    }
  }

  // ---- protecting ---------------------------------------------------------------------------------

  /** One round: switch if needed, poll the flush once, grant when flushed. */
  async function protectRound(): Promise<void> {
    const acts = fvp();
    try {
      if (!s.alreadyWriteThrough && !s.writeThrough) await switchToWriteThrough();
      phase('flushing');
      const [state] = await acts.forward.waitForFlush({
        vms: [s.vm],
        pollIntervalMs: timeouts().flushPollMs,
        returnAfterMs: Math.max(FLUSH_ROUND_MS, 2 * timeouts().flushPollMs),
      });
      s.lastFlush = state as FlushState;
      if (isFlushed(state)) {
        s.flushed = true;
        phase('protected');
        for (const holder of s.holders.filter((h) => !h.granted)) grant(holder);
        syncMemo();
        return;
      }
      s.flushed = false;
      // Requested write-back again (an admin, or an adopted record): switch again.
      if (state && state.requested.mode !== 'WriteThrough') await switchToWriteThrough();
      for (const holder of s.holders.filter((h) => !h.granted)) reply(holder, { kind: 'progress', state: s.lastFlush });
    } catch (err) {
      refuseWaiting(err);
    }
  }

  async function switchToWriteThrough(): Promise<void> {
    // Marked (and in the memo) *before* the call: it may take effect and still fail.
    s.writeThrough = true;
    s.counts.switches++;
    phase('switching');
    syncMemo();
    const after = await fvp().forward.setWriteThrough({ vm: s.vm });
    s.lastFlush = { vm: s.vm, requested: after.requested, effective: after.effective, timeToDestageSeconds: 0 };
    s.flushed = false;
  }

  async function checkHolders(): Promise<void> {
    checkRequested = false;
    nextCheckAt = Date.now() + settings.holderCheckIntervalMs;
    if (s.holders.length === 0) return;
    let results;
    try {
      results = await temporalActs.describeHolders({
        holders: s.holders.map(({ workflowId, firstRunId }) => ({ workflowId, firstRunId })),
      });
    } catch (err) {
      log.warn('vmGuard: could not check holders', { error: messageOf(err) });
      return;
    }
    for (const result of results.filter((r) => !r.alive)) {
      const holder = s.holders.find((h) => sameRun(h, result));
      if (!holder) continue;
      s.holders = s.holders.filter((h) => h !== holder);
      s.counts.droppedHolders++;
      if (holder.granted && !s.abandonedJobs.includes(holder.job)) s.abandonedJobs.push(holder.job);
      log.warn('vmGuard: dropped a holder that is no longer running', {
        holder: holder.workflowId,
        status: result.status,
        job: holder.job,
      });
    }
    syncMemo();
  }

  // ---- restoring ----------------------------------------------------------------------------------

  /** Runs `work` until it ends (or fails) or a request arrives first. */
  async function untilRequest(work: () => Promise<unknown>): Promise<'done' | 'failed' | 'request'> {
    const scope = new CancellationScope();
    const done = scope.run(work).then(
      () => 'done' as const,
      (err: unknown) => {
        if (!scope.consideredCancelled) log.warn('vmGuard: wait failed', { error: messageOf(err) });
        return 'failed' as const;
      },
    );
    const request = scope
      .run(() => condition(() => s.inbox.length > 0))
      .then(
        () => 'request' as const,
        () => 'failed' as const,
      );
    const first = await Promise.race([done, request]);
    scope.cancel();
    await Promise.allSettled([done, request]);
    return first;
  }

  /** Nobody holds the VM: wait for abandoned jobs, then give the recorded policy back. */
  async function endHold(): Promise<boolean> {
    if (!s.writeThrough) {
      s.abandonedJobs = [];
      return true;
    }
    while (s.abandonedJobs.length > 0) {
      phase('waiting-for-abandoned-jobs');
      syncMemo();
      const job = s.abandonedJobs[0] as string;
      // A holder died after its grant: its Veeam job may still read the disks.
      const outcome = await untilRequest(() =>
        fvp().longWait.prepareJobStart({ job, whenAlreadyRunning: 'wait', pollIntervalMs: timeouts().jobPollMs }),
      );
      if (outcome === 'request') return false; // someone wants the VM: serve them first, it is still write-through
      s.abandonedJobs = s.abandonedJobs.filter((j) => j !== job); // over (or gone: nothing reads any more)
    }
    phase('restoring');
    syncMemo();
    const recorded = s.recorded;
    if (recorded) await restoreNeverGivingUp(recorded);
    s.writeThrough = false;
    s.flushed = false;
    s.counts.restores++;
    syncMemo();
    return true;
  }

  async function restoreNeverGivingUp(recorded: NonNullable<GuardState['recorded']>): Promise<VmPolicy> {
    let pauseMs = timeouts().retryInitialMs;
    for (;;) {
      s.restoreAttempts++;
      try {
        const after = await fvp().restore.restoreCachePolicy({ vm: s.vm, policy: recorded });
        s.lastError = null;
        lastPolicy = after;
        return after;
      } catch (err) {
        s.lastError = messageOf(err);
        phase('restore-failing');
        for (const w of s.waiters) {
          reply(w.requester, { kind: 'restore-failing', attempts: s.restoreAttempts, lastError: s.lastError });
        }
        await sleep(pauseMs);
        pauseMs = Math.min(pauseMs * 2, timeouts().restoreMaxIntervalMs);
        await maybeContinueAsNew(); // a restore failing for days must not grow the history without bound
      }
    }
  }

  function answerWaiters(restoredNow: boolean, unknownVm = false): void {
    for (const w of s.waiters) {
      if (w.kind === 'release') {
        reply(w.requester, {
          kind: 'released',
          restored: !s.alreadyWriteThrough && !unknownVm,
          leftAlone: s.alreadyWriteThrough,
          holders: 0,
          policy: lastPolicy,
          restoreAttempts: s.restoreAttempts,
        });
      } else {
        reply(w.requester, {
          kind: 'reconciled',
          outcome: unknownVm
            ? 'unknown-vm'
            : restoredNow
              ? 'restored'
              : s.alreadyWriteThrough
                ? 'left-alone'
                : 'in-place',
          holders: [],
          policy: lastPolicy,
        });
      }
    }
    s.waiters = [];
  }

  function answerReconcilesWhileHeld(): void {
    if (s.holders.length === 0) return;
    const reconciles = s.waiters.filter((w) => w.kind === 'reconcile');
    for (const w of reconciles) {
      reply(w.requester, {
        kind: 'reconciled',
        outcome: 'held',
        holders: s.holders.map((h) => h.workflowId),
        policy: null,
      });
    }
    s.waiters = s.waiters.filter((w) => w.kind !== 'reconcile');
  }

  async function maybeContinueAsNew(): Promise<void> {
    const info = workflowInfo();
    if (info.historyLength < settings.historyLimit && !info.continueAsNewSuggested) return;
    await repliesSent();
    await condition(allHandlersFinished);
    s.counts.continuedAsNew++;
    syncMemo();
    // The inbox goes along: requests that arrived and were not processed yet are not lost.
    await continueAsNew<typeof vmGuard>({ vm: s.vm, fvpServer: s.fvpServer, carried: s });
  }

  // ---- main loop ----------------------------------------------------------------------------------

  try {
    return await CancellationScope.nonCancellable(() => run());
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    // A bug must close the guard (its memo keeps the record for a successor), not retry its task forever.
    throw asApplicationFailure(err, [s]);
  }

  async function run(): Promise<VmGuardResult> {
    settings = await localActs.vmGuardSettings();
    nextCheckAt = Date.now() + settings.holderCheckIntervalMs;
    if (!carried) {
      // The request that started the guard brings the timeouts to read with; it is processed only
      // after the record (a predecessor's holders, adopted, must not undo a release queued here).
      const first = s.inbox.find((r) => r.kind === 'acquire' || r.kind === 'reconcile');
      if (first && 'timeouts' in first) s.timeouts = first.timeouts;
      const outcome = await record(true);
      established = true;
      if (outcome === 'unknown-vm') {
        drain();
        refuseWaiting(ApplicationFailure.nonRetryable(`VM ${JSON.stringify(s.vm)} is not known to FVP`, 'UnknownVm'));
        answerWaiters(false, true);
        await repliesSent();
        phase('done');
        return result();
      }
    }
    syncMemo();

    for (;;) {
      await maybeContinueAsNew();
      drain();
      if (s.recorded === null && (s.holders.length > 0 || s.waiters.length > 0)) {
        phase('starting');
        if ((await record(false)) === 'unknown-vm') {
          refuseWaiting(ApplicationFailure.nonRetryable(`VM ${JSON.stringify(s.vm)} is not known to FVP`, 'UnknownVm'));
          answerWaiters(false, true);
          continue;
        }
        syncMemo();
      }
      if (checkRequested || (s.holders.length > 0 && Date.now() >= nextCheckAt)) await checkHolders();
      answerReconcilesWhileHeld();

      // Someone waits for a grant, or the flush is not verified (an adopted record): one round.
      if (s.holders.some((h) => !h.granted) || (s.holders.length > 0 && !s.flushed)) {
        await protectRound();
        continue;
      }
      if (s.holders.length > 0) {
        phase('protected');
        syncMemo();
        await condition(() => s.inbox.length > 0 || checkRequested, Math.max(1, nextCheckAt - Date.now()));
        continue;
      }

      // Nobody holds the VM.
      const wasWriteThrough = s.writeThrough;
      if (!(await endHold())) continue;
      answerWaiters(wasWriteThrough);
      s.recorded = null;
      s.alreadyWriteThrough = false;
      s.restoreAttempts = 0;
      phase('idle');
      syncMemo();
      await repliesSent();
      if (s.inbox.length > 0) continue;
      await condition(allHandlersFinished);
      if (s.inbox.length > 0) continue;
      phase('done');
      return result();
    }
  }

  function result(): VmGuardResult {
    return { vm: s.vm, fvpServer: s.fvpServer, adoptedFrom: s.adoptedFrom, counts: s.counts };
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };
function settle<T>(promise: Promise<T>): Promise<Outcome<T>> {
  return promise.then(
    (value): Outcome<T> => ({ ok: true, value }),
    (error: unknown): Outcome<T> => ({ ok: false, error }),
  );
}

function upsertMemoSafe(memo: GuardMemo): void {
  upsertMemo(memo as unknown as Record<string, unknown>);
}
