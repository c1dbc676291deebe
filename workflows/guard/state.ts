/**
 * The per-VM guard's state and every decision it makes, one method per request or event, with no
 * Temporal call of its own: replies and memo updates go out through the ports it is given, so the
 * class is unit-tested without a server (test/workflows/guard-state.test.ts). The workflow around
 * it (entity.ts) owns the loop, the activities (steps.ts) and continue-as-new, as in Temporal's
 * entity sample (message-passing/safe-message-handlers: workflows.ts + cluster-manager.ts).
 * The requests live in its base class (book.ts); here, the hold's life: record, protect, watch
 * for drift, drop closed holders, restore and answer.
 */
import type { ClosedGuard } from '../../activities/vm-guard';
import type { Holder, VmGuardResult } from '../../domain/guard-protocol';
import { isFlushed, type FlushState, type VmPolicy } from '../../domain/policy';
import type { RestoreOutcome, TerminalRestoreOutcome } from '../restore-policy';
import { answerReconcilesWhileHeld, answerWaiters } from './answers';
import { GuardBook } from './book';
import { decideRecord, sameRun, type Outcome, type RecordDecision } from './record';

export class VmGuard extends GuardBook {
  /** Workflow-clock time (ms) of this hold's first switch in this run of the guard: for the metrics. */
  switchedAt: number | null = null;
  /**
   * Set when the hold's restore ended without restoring because none can ever succeed (FVP no
   * longer knows or accelerates the VM): answered to the waiters, then kept as the guard's phase.
   */
  terminal: TerminalRestoreOutcome['kind'] | null = null;

  // ---- identity -----------------------------------------------------------------------------

  /**
   * The VM as FVP named it in an answer to a call by uuid: a VM renamed in vCenter keeps its guard
   * (keyed on the uuid), which takes the new name for its state, memo, search attribute and
   * replies (runs match replies by guard id, never by name). A guard without a uuid addresses the
   * VM by name, so its answers always carry that name: nothing to follow. Returns the old name
   * when the name changed, for the log.
   */
  followName(current: string | undefined): string | null {
    const before = this.state.vm;
    if (this.state.uuid === undefined || current === undefined || current === before) return null;
    this.state.vm = current;
    this.syncMemo();
    return before;
  }

  // ---- recording ----------------------------------------------------------------------------

  /**
   * Decides the policy to give back at the end of this hold (record.ts): a predecessor's record
   * that was not cleaned up wins over the VM's policy now; `undecided` while a read failed that matters.
   */
  decideRecord(predecessor: Outcome<ClosedGuard | null>, policy: Outcome<VmPolicy | null>): RecordDecision {
    const { decision, adopted } = decideRecord(this.state, predecessor, policy);
    if (adopted) this.checkRequested = true; // adopted holders may be long gone
    return decision;
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

  /** Every holder granted and the flush verified: the holders' jobs may be reading the disks. */
  isProtecting(): boolean {
    const { holders, flushed } = this.state;
    return flushed && holders.length > 0 && holders.every((h) => h.granted);
  }

  /**
   * A read while protecting found the VM out of write-through or not flushed: the holders are told,
   * and the next round protects it again. A requested policy someone set on purpose meanwhile
   * becomes the one given back at the end (reported, never silently overwritten).
   */
  driftSeen(state: FlushState): void {
    const guardState = this.state;
    const requested = `${state.requested.mode}${state.requested.mode === 'WriteBack' ? `/${state.requested.peers}` : ''}`;
    const message = `left write-through after it was verified: requested ${requested}, effective ${state.effective}, ${state.timeToDestageSeconds} s to destage`;
    guardState.lastError = message;
    guardState.lastFlush = state;
    guardState.flushed = false;
    if (state.requested.mode !== 'WriteThrough' && !guardState.alreadyWriteThrough)
      guardState.recorded = state.requested;
    for (const holder of guardState.holders) this.ports.reply(holder, { kind: 'drift', state, message });
    this.syncMemo();
  }

  /**
   * A conditional switch was refused: FVP did not write, the VM's policy is someone else's now.
   * The restore is not owed for it (unless an earlier switch is); the record is read again.
   */
  switchRefused(owedBefore: boolean): void {
    this.owesRestore = owedBefore;
    if (!owedBefore) this.state.recorded = null;
    this.syncMemo();
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
    const guardState = this.state;
    const dropped: Holder[] = [];
    for (const result of results.filter((r) => !r.alive)) {
      const holder = guardState.holders.find((h) => sameRun(h, result));
      if (!holder) continue;
      guardState.holders = guardState.holders.filter((h) => h !== holder);
      guardState.counts.droppedHolders++;
      if (holder.granted && !guardState.abandonedJobs.includes(holder.job)) guardState.abandonedJobs.push(holder.job);
      dropped.push(holder);
    }
    this.syncMemo();
    return dropped;
  }

  /**
   * A reply to this requester could not be delivered: its run has closed (a run that handed its
   * release over, holder.ts), or can take no more signals. A waiter of its is answered no more;
   * the restore it waited for goes on all the same (owesRestore). Its holders are left to the
   * holder check, which asks whether they still run.
   */
  forgetWaiter(requester: { workflowId: string; firstRunId: string }): void {
    const before = this.state.waiters.length;
    this.state.waiters = this.state.waiters.filter((w) => !sameRun(w.requester, requester));
    if (this.state.waiters.length !== before) this.syncMemo();
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

  /**
   * The hold's restore is done: verified, someone else's change kept, or ended for good because
   * FVP no longer knows or accelerates the VM (nothing left in write-through on FVP). Each is
   * reported to the waiters. Never called with 'interrupted': the VM is still write-through then.
   */
  restored(outcome: Exclude<RestoreOutcome, { kind: 'interrupted' }> | null): void {
    this.keptChange = null;
    this.terminal = null;
    if (outcome?.kind === 'restored') {
      this.state.lastError = null;
      this.lastPolicy = outcome.policy;
    } else if (outcome?.kind === 'vm-gone' || outcome?.kind === 'not-accelerated') {
      this.state.lastError = outcome.message;
      this.terminal = outcome.kind;
      this.lastPolicy = null;
    } else if (outcome) {
      this.state.lastError = outcome.message;
      this.keptChange = outcome.message;
      this.lastPolicy = null;
    }
    this.owesRestore = false;
    this.state.flushed = false;
    this.state.counts.restores++;
    this.syncMemo();
  }

  /** Answers every waiting release (`released`) and reconcile (`reconciled`): the hold is over. */
  answerWaiters(restoredNow: boolean, unknownVm = false): void {
    answerWaiters(this.state, this.ports, {
      restoredNow,
      // Nothing to restore on FVP any more: answered as for an unknown VM (not restored), and why.
      unknownVm: unknownVm || this.terminal !== null,
      policy: this.lastPolicy,
      keptChange: this.keptChange,
      terminal: this.terminal,
    });
  }

  /** A reconcile that finds live holders is answered `held` at once: their last release restores. */
  answerReconcilesWhileHeld(): void {
    answerReconcilesWhileHeld(this.state, this.ports);
  }

  /**
   * The hold is over and answered: the guard is idle until the next acquire. A hold that ended on
   * a gone or unaccelerated VM keeps that as its phase (memo and search attribute): what an
   * operator finds in `guard status` and in the Web UI, also once the guard has completed.
   */
  idle(): void {
    this.state.recorded = null;
    this.state.alreadyWriteThrough = false;
    this.state.restoreAttempts = 0;
    this.phase(this.terminal ?? 'idle');
    this.terminal = null;
    this.syncMemo();
  }

  result(): VmGuardResult {
    const guardState = this.state;
    return {
      vm: guardState.vm,
      fvpServer: guardState.fvpServer,
      adoptedFrom: guardState.adoptedFrom,
      counts: guardState.counts,
    };
  }
}
