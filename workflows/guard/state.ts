/**
 * The per-VM guard's state and every decision it makes, one method per request or event, with no
 * Temporal call of its own: replies and memo updates go out through the ports it is given, so the
 * class is unit-tested without a server (test/workflows/guard-state.test.ts). The workflow around
 * it (entity.ts) owns the loop, the activities (steps.ts) and continue-as-new, as in Temporal's
 * entity sample (message-passing/safe-message-handlers: workflows.ts + cluster-manager.ts).
 *
 * Vocabulary: a *holder* is a run that acquired the VM; a *waiter* is a release or reconcile
 * request that waits for the end of the hold; the *record* is the policy to give back.
 */
import type { ClosedGuard } from '../../activities/vm-guard';
import {
  GuardRequest,
  type GuardMemo,
  type GuardPhase,
  type GuardReply,
  type GuardSettings,
  type GuardState,
  type GuardTimeouts,
  type Holder,
  type Requester,
  type VmGuardResult,
} from '../../domain/guard-protocol';
import { isFlushed, type FlushState, type VmPolicy } from '../../domain/policy';
import { FailureType, messageOf, typeOf } from '../failures';
import { defaultGuardTimeouts } from '../step-timeouts';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A reply as the guard writes it; the transport adds who sends it and to which run. */
export type ReplyBody = DistributiveOmit<GuardReply, 'guardId' | 'vm' | 'firstRunId'>;

export interface GuardPorts {
  /** Sends a reply to a requester; fire and forget (a reply that cannot be delivered asks for a holder check). */
  reply(to: Requester | Holder, message: ReplyBody): void;
  upsertMemo(memo: GuardMemo): void;
}

/** What a read of a predecessor or a policy gave: a value, or an error to wait out. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

const now = (): string => new Date(Date.now()).toISOString(); // workflow clock: deterministic

const sameRun = (a: { workflowId: string; firstRunId: string }, b: { workflowId: string; firstRunId: string }) =>
  a.workflowId === b.workflowId && a.firstRunId === b.firstRunId;

export function freshGuardState(vm: string, fvpServer: string): GuardState {
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

export class VmGuard {
  /** Holders' liveness is checked at the next turn of the loop. */
  checkRequested: boolean;
  /** Workflow-clock time (ms) of the next periodic holder check. */
  nextCheckAt = 0;
  /** The worker's guard settings, read once per run of the guard. */
  settings: GuardSettings | null = null;
  /** The policy the last verified restore read back (what `released` and `reconciled` report). */
  lastPolicy: VmPolicy | null = null;
  /**
   * Until its first record (or adoption), a fresh guard keeps the bare memo it was started with:
   * a successor looking for a record to adopt skips it and looks further back.
   */
  private established: boolean;
  private lastMemo = '';

  constructor(
    /** This guard's workflow id (`vm-guard/<fvp server>/<vm>`). */
    readonly guardId: string,
    /** The serialised state: carried through continue-as-new, returned by the `state` query. */
    readonly state: GuardState,
    carried: boolean,
    private readonly ports: GuardPorts,
  ) {
    this.checkRequested = carried; // a fresh run of a long hold checks its holders at once
    this.established = carried;
  }

  /**
   * This guard switched the VM to write-through and has not yet restored (verified) the recorded
   * policy. Stored as `writeThrough` in the state and the memo, whose names committed histories
   * and closed guards' memos keep.
   */
  get owesRestore(): boolean {
    return this.state.writeThrough;
  }
  set owesRestore(value: boolean) {
    this.state.writeThrough = value;
  }

  get isEstablished(): boolean {
    return this.established;
  }

  timeouts(): GuardTimeouts {
    return this.state.timeouts ?? defaultGuardTimeouts();
  }

  phase(next: GuardPhase): void {
    this.state.phase = next;
  }

  establish(): void {
    this.established = true;
  }

  syncMemo(): void {
    if (!this.established) return;
    const s = this.state;
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
    if (text === this.lastMemo) return;
    this.lastMemo = text;
    this.ports.upsertMemo(memo);
  }

  // ---- requests: queued by the signal handler, processed in order by the loop -------------------

  /** The signal handler: a malformed request is counted and dropped, never fails the task. */
  receive(raw: unknown): void {
    const request = GuardRequest.safeParse(raw);
    if (request.success) this.state.inbox.push(request.data);
    else this.state.counts.rejectedMessages++;
  }

  /** Processes every queued request. */
  drain(): void {
    while (this.state.inbox.length > 0) {
      const request = this.state.inbox.shift() as GuardRequest;
      switch (request.kind) {
        case 'acquire':
          this.acquire(request);
          break;
        case 'release':
          this.release(request);
          break;
        case 'reconcile':
          this.reconcile(request);
          break;
        case 'check':
          this.checkRequested = true;
          break;
      }
    }
    this.syncMemo();
  }

  acquire(request: Extract<GuardRequest, { kind: 'acquire' }>): void {
    const s = this.state;
    s.counts.acquires++;
    if (s.holders.length === 0 && !this.owesRestore) s.timeouts = request.timeouts;
    s.timeouts ??= request.timeouts;
    const known = s.holders.find((h) => sameRun(h, request.requester));
    if (known) {
      // A resent acquire: the first answer was lost (or the guard restarted). Answer again if the
      // flush is verified now; else the next round verifies and grants it.
      known.runId = request.requester.runId;
      if (known.granted && s.flushed) this.grant(known);
      else known.granted = false;
    } else {
      s.holders.push({ ...request.requester, job: request.job, since: now(), granted: false });
    }
  }

  release(request: Extract<GuardRequest, { kind: 'release' }>): void {
    const s = this.state;
    s.counts.releases++;
    s.holders = s.holders.filter((h) => !sameRun(h, request.requester));
    if (s.holders.length > 0) {
      this.ports.reply(request.requester, {
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
  }

  reconcile(request: Extract<GuardRequest, { kind: 'reconcile' }>): void {
    this.state.timeouts ??= request.timeouts;
    this.checkRequested = true;
    this.state.waiters.push({ kind: 'reconcile', requester: request.requester });
  }

  grant(holder: Holder): void {
    holder.granted = true;
    this.ports.reply(holder, {
      kind: 'granted',
      recorded: this.state.recorded ?? { mode: 'WriteThrough', peers: 0, externalPeers: null },
      alreadyWriteThrough: this.state.alreadyWriteThrough,
      state: this.state.lastFlush as FlushState,
      holders: this.state.holders.length,
    });
  }

  /** A forward step failed for good: the holders still waiting are told why and let go. */
  refuseWaiting(err: unknown): void {
    const s = this.state;
    const message = `guard of ${JSON.stringify(s.vm)}: ${messageOf(err)}`;
    s.lastError = message;
    const type = typeOf(err) ?? FailureType.stepFailed;
    for (const holder of s.holders.filter((h) => !h.granted))
      this.ports.reply(holder, { kind: 'refused', message, type });
    s.holders = s.holders.filter((h) => h.granted);
    this.syncMemo();
  }

  // ---- recording ----------------------------------------------------------------------------

  /**
   * Decides the policy to give back at the end of this hold, from a predecessor's record (fresh
   * guards only) and the VM's policy now: the record of a predecessor that did not clean up wins;
   * else the VM's requested policy. `undecided` when either read failed in a way that matters.
   */
  decideRecord(
    predecessor: Outcome<ClosedGuard | null>,
    policy: Outcome<VmPolicy | null>,
  ): 'recorded' | 'unknown-vm' | 'undecided' {
    const adopt = predecessor.ok && predecessor.value?.memo.record.writeThrough ? predecessor.value : null;
    const current = policy.ok ? policy.value : undefined;
    if (adopt && adopt.memo.record.recorded) {
      this.adopt(adopt, current);
      return 'recorded';
    }
    if (current === null) return 'unknown-vm';
    if (current !== undefined && (current.requested.mode === 'WriteBack' || predecessor.ok)) {
      this.state.recorded = current.requested;
      this.state.alreadyWriteThrough = current.requested.mode === 'WriteThrough';
      this.owesRestore = false;
      return 'recorded';
    }
    return 'undecided';
  }

  /** Takes over the record, holders and abandoned jobs of a predecessor that did not clean up. */
  private adopt(predecessor: ClosedGuard, current: VmPolicy | null | undefined): void {
    const s = this.state;
    const record = predecessor.memo.record;
    s.recorded = record.recorded;
    s.alreadyWriteThrough = record.alreadyWriteThrough;
    s.adoptedFrom = predecessor.runId;
    // Still write-through (or unknown): ours to restore. Already back: nothing left to restore.
    this.owesRestore = current === undefined || current === null || current.requested.mode === 'WriteThrough';
    const releasing = [
      ...s.waiters.map((w) => w.requester),
      ...s.inbox.flatMap((r) => (r.kind === 'release' ? [r.requester] : [])),
    ];
    for (const holder of record.holders) {
      if (s.holders.some((h) => sameRun(h, holder)) || releasing.some((r) => sameRun(r, holder))) continue;
      s.holders.push({ ...holder });
    }
    for (const job of record.abandonedJobs) if (!s.abandonedJobs.includes(job)) s.abandonedJobs.push(job);
    this.checkRequested = true; // adopted holders may be long gone
  }

  /** The VM is unknown to FVP: every waiting holder is refused, every waiter answered. */
  refuseUnknownVm(error: unknown): void {
    this.refuseWaiting(error);
    this.answerWaiters(false, true);
  }

  // ---- protecting ---------------------------------------------------------------------------

  /** Marked (and in the memo) *before* the switch is sent: it may take effect and still fail. */
  switching(): void {
    this.owesRestore = true;
    this.state.counts.switches++;
    this.phase('switching');
    this.syncMemo();
  }

  switched(after: VmPolicy): void {
    this.state.lastFlush = {
      vm: this.state.vm,
      requested: after.requested,
      effective: after.effective,
      timeToDestageSeconds: 0,
    };
    this.state.flushed = false;
  }

  /** A flush poll's answer: grants every waiting holder once flushed; true when it was. */
  flushRead(state: FlushState | undefined): boolean {
    this.state.lastFlush = state as FlushState;
    if (isFlushed(state)) {
      this.state.flushed = true;
      this.phase('protected');
      for (const holder of this.ungranted()) this.grant(holder);
      this.syncMemo();
      return true;
    }
    this.state.flushed = false;
    return false;
  }

  reportProgress(): void {
    for (const holder of this.ungranted())
      this.ports.reply(holder, { kind: 'progress', state: this.state.lastFlush as FlushState });
  }

  ungranted(): Holder[] {
    return this.state.holders.filter((h) => !h.granted);
  }

  /** Someone waits for a grant, or the flush is not verified (an adopted record): a protect round is due. */
  needsProtectRound(): boolean {
    const { holders, flushed } = this.state;
    return holders.some((h) => !h.granted) || (holders.length > 0 && !flushed);
  }

  // ---- holders --------------------------------------------------------------------------------

  /** Drops holders that no longer run; a dropped holder that had been granted leaves its job to wait for. */
  dropClosedHolders(results: { workflowId: string; firstRunId: string; alive: boolean; status: string }[]): Holder[] {
    const s = this.state;
    const dropped: Holder[] = [];
    for (const result of results.filter((r) => !r.alive)) {
      const holder = s.holders.find((h) => sameRun(h, result));
      if (!holder) continue;
      s.holders = s.holders.filter((h) => h !== holder);
      s.counts.droppedHolders++;
      if (holder.granted && !s.abandonedJobs.includes(holder.job)) s.abandonedJobs.push(holder.job);
      dropped.push(holder);
    }
    this.syncMemo();
    return dropped;
  }

  // ---- ending a hold ------------------------------------------------------------------------------

  restoreAttempt(): void {
    this.state.restoreAttempts++;
  }

  /** A restore attempt failed: the waiting runs see it (it is retried, never given up). */
  restoreFailed(message: string): void {
    this.state.lastError = message;
    this.phase('restore-failing');
    for (const w of this.state.waiters) {
      this.ports.reply(w.requester, {
        kind: 'restore-failing',
        attempts: this.state.restoreAttempts,
        lastError: message,
      });
    }
  }

  restored(after: VmPolicy | null): void {
    if (after) {
      this.state.lastError = null;
      this.lastPolicy = after;
    }
    this.owesRestore = false;
    this.state.flushed = false;
    this.state.counts.restores++;
    this.syncMemo();
  }

  answerWaiters(restoredNow: boolean, unknownVm = false): void {
    const s = this.state;
    for (const w of s.waiters) {
      if (w.kind === 'release') {
        this.ports.reply(w.requester, {
          kind: 'released',
          restored: !s.alreadyWriteThrough && !unknownVm,
          leftAlone: s.alreadyWriteThrough,
          holders: 0,
          policy: this.lastPolicy,
          restoreAttempts: s.restoreAttempts,
        });
      } else {
        const outcome = unknownVm
          ? 'unknown-vm'
          : restoredNow
            ? 'restored'
            : s.alreadyWriteThrough
              ? 'left-alone'
              : 'in-place';
        this.ports.reply(w.requester, { kind: 'reconciled', outcome, holders: [], policy: this.lastPolicy });
      }
    }
    s.waiters = [];
  }

  answerReconcilesWhileHeld(): void {
    const s = this.state;
    if (s.holders.length === 0) return;
    for (const w of s.waiters.filter((w) => w.kind === 'reconcile')) {
      this.ports.reply(w.requester, {
        kind: 'reconciled',
        outcome: 'held',
        holders: s.holders.map((h) => h.workflowId),
        policy: null,
      });
    }
    s.waiters = s.waiters.filter((w) => w.kind !== 'reconcile');
  }

  /** The hold is over and answered: the guard is idle until the next acquire. */
  idle(): void {
    this.state.recorded = null;
    this.state.alreadyWriteThrough = false;
    this.state.restoreAttempts = 0;
    this.phase('idle');
    this.syncMemo();
  }

  result(): VmGuardResult {
    const s = this.state;
    return { vm: s.vm, fvpServer: s.fvpServer, adoptedFrom: s.adoptedFrom, counts: s.counts };
  }
}
