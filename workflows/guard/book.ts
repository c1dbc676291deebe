/**
 * The per-VM guard's book: its serialised state, its memo, and the requests runs send it
 * (acquire, release, reconcile, check), one method each. No Temporal call of its own: replies and
 * memo updates go out through the ports it is given. state.ts extends it with the hold's life
 * (record, protect, watch, restore); the split is by subject, the class is one.
 *
 * Vocabulary: a *holder* is a run that acquired the VM; a *waiter* is a release or reconcile
 * request that waits for the end of the hold; the *record* is the policy to give back.
 */
import {
  GuardRequest,
  type GuardPhase,
  type GuardSettings,
  type GuardState,
  type GuardTimeouts,
  type Holder,
} from '../../domain/guard-protocol';
import type { FlushState, VmPolicy } from '../../domain/policy';
import { FailureType, messageOf, typeOf } from '../failures';
import { defaultGuardTimeouts } from '../step-timeouts';
import type { GuardPorts } from './answers';
import { adoptCarriedAfterRecord, memoOf, now, sameRun } from './record';

export class GuardBook {
  /** Holders' liveness is checked at the next turn of the loop. */
  checkRequested: boolean;
  /** Workflow-clock time (ms) of the next periodic holder check. */
  nextCheckAt = 0;
  /** The worker's guard settings, read once per run of the guard. */
  settings: GuardSettings | null = null;
  /**
   * Guards since `guard-lean-flush` (steps.ts): reads as local activities, the switch and the
   * first flush read as one activity. Asked once at the start of every guard run.
   */
  leanFlush = false;
  /** The policy the last verified restore read back (what `released` and `reconciled` report). */
  lastPolicy: VmPolicy | null = null;
  /** Set when the last restore found someone else's change and kept it: why, for the waiters. */
  keptChange: string | null = null;
  /**
   * Until its first record (or adoption), a fresh guard keeps the bare memo it was started with:
   * a successor looking for a record to adopt skips it and looks further back.
   */
  private established: boolean;
  private lastMemo = '';

  constructor(
    /** This guard's workflow id (`vm-guard-uuid/<fvp server>/<uuid>`, or the name-keyed one of older runs). */
    readonly guardId: string,
    /** The serialised state: carried through continue-as-new, returned by the `state` query. */
    readonly state: GuardState,
    carried: boolean,
    protected readonly ports: GuardPorts,
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

  /** The worker's guard timeouts; before workers configured them, those of the hold's first acquirer. */
  timeouts(): GuardTimeouts {
    return this.settings?.timeouts ?? this.state.timeouts ?? defaultGuardTimeouts();
  }

  /** The worker's settings, read at the start of every guard run; their timeouts are the ones in force. */
  useSettings(settings: GuardSettings): void {
    this.settings = settings;
    if (settings.timeouts) this.state.timeouts = settings.timeouts;
  }

  phase(next: GuardPhase): void {
    this.state.phase = next;
  }

  establish(): void {
    this.established = true;
  }

  syncMemo(): void {
    if (!this.established) return;
    const memo = memoOf(this.state);
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
    const guardState = this.state;
    guardState.counts.acquires++;
    // A run's own timeouts matter only to guards whose worker sets none (histories from before).
    if (!this.settings?.timeouts) {
      if (guardState.holders.length === 0 && !this.owesRestore) guardState.timeouts = request.timeouts;
      guardState.timeouts ??= request.timeouts;
    }
    // A legacy name-keyed guard a run since `guard-by-uuid` was routed to learns its VM's uuid:
    // from then on it addresses the VM by it and follows a rename like a uuid-keyed guard.
    if (request.uuid !== undefined && guardState.uuid === undefined) guardState.uuid = request.uuid;
    const known = guardState.holders.find((h) => sameRun(h, request.requester));
    if (known) {
      // A resent acquire: the first answer was lost (or the guard restarted). Answer again if the
      // flush is verified now; else the next round verifies and grants it.
      known.runId = request.requester.runId;
      if (known.granted && guardState.flushed) this.grant(known);
      else known.granted = false;
    } else {
      guardState.holders.push({ ...request.requester, job: request.job, since: now(), granted: false });
    }
  }

  release(request: Extract<GuardRequest, { kind: 'release' }>): void {
    const guardState = this.state;
    guardState.counts.releases++;
    // A holder granted by a predecessor this guard could not see brings that guard's record.
    if (adoptCarriedAfterRecord(guardState, request)) this.checkRequested = true;
    guardState.holders = guardState.holders.filter((h) => !sameRun(h, request.requester));
    if (guardState.holders.length > 0) {
      this.ports.reply(request.requester, {
        kind: 'released',
        restored: false,
        leftAlone: guardState.alreadyWriteThrough,
        holders: guardState.holders.length,
        policy: null,
        restoreAttempts: 0,
      });
    } else if (!guardState.waiters.some((w) => w.kind === 'release' && sameRun(w.requester, request.requester))) {
      guardState.waiters.push({ kind: 'release', requester: request.requester });
    }
  }

  reconcile(request: Extract<GuardRequest, { kind: 'reconcile' }>): void {
    if (!this.settings?.timeouts) this.state.timeouts ??= request.timeouts;
    // The closed run's record, for a guard that took write-through for the VM's own (its holders
    // are checked below, before anything is restored).
    adoptCarriedAfterRecord(this.state, request);
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
    const guardState = this.state;
    const message = `guard of ${JSON.stringify(guardState.vm)}: ${messageOf(err)}`;
    guardState.lastError = message;
    const type = typeOf(err) ?? FailureType.stepFailed;
    for (const holder of guardState.holders.filter((h) => !h.granted))
      this.ports.reply(holder, { kind: 'refused', message, type });
    guardState.holders = guardState.holders.filter((h) => h.granted);
    this.syncMemo();
  }
}
