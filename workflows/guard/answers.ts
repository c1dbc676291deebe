/**
 * How the guard answers: the ports it replies and keeps its memo through (entity.ts sends the
 * replies as external signals; tests capture them), and the answers that end a hold. Pure.
 */
import type { GuardMemo, GuardReply, GuardState, Holder, Requester } from '../../domain/guard-protocol';
import type { VmPolicy } from '../../domain/policy';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A reply as the guard writes it; the transport adds who sends it and to which run. */
export type ReplyBody = DistributiveOmit<GuardReply, 'guardId' | 'vm' | 'firstRunId'>;

export interface GuardPorts {
  /** Sends a reply to a requester; fire and forget (a reply that cannot be delivered asks for a holder check). */
  reply(to: Requester | Holder, message: ReplyBody): void;
  upsertMemo(memo: GuardMemo): void;
}

/** The hold is over: every waiting release is answered `released`, every reconcile `reconciled`. */
export function answerWaiters(
  state: GuardState,
  ports: GuardPorts,
  end: {
    restoredNow: boolean;
    unknownVm: boolean;
    policy: VmPolicy | null;
    keptChange: string | null;
    /** The restore ended without restoring (FVP no longer knows or accelerates the VM; unknownVm is set too). */
    terminal?: 'vm-gone' | 'not-accelerated' | null;
  },
): void {
  for (const waiter of state.waiters) {
    if (waiter.kind === 'release') {
      ports.reply(waiter.requester, {
        kind: 'released',
        restored: !state.alreadyWriteThrough && !end.unknownVm && end.keptChange === null,
        leftAlone: state.alreadyWriteThrough,
        holders: 0,
        policy: end.policy,
        restoreAttempts: state.restoreAttempts,
        ...(end.keptChange === null ? {} : { keptChange: end.keptChange }),
        ...(end.terminal ? { outcome: end.terminal } : {}),
      });
    } else {
      const outcome = end.unknownVm
        ? 'unknown-vm'
        : end.keptChange !== null
          ? 'kept-change'
          : end.restoredNow
            ? 'restored'
            : state.alreadyWriteThrough
              ? 'left-alone'
              : 'in-place';
      ports.reply(waiter.requester, { kind: 'reconciled', outcome, holders: [], policy: end.policy });
    }
  }
  state.waiters = [];
}

/** Live holders: a reconcile is answered `held` at once (the last holder's release restores). */
export function answerReconcilesWhileHeld(state: GuardState, ports: GuardPorts): void {
  if (state.holders.length === 0) return;
  for (const waiter of state.waiters.filter((w) => w.kind === 'reconcile')) {
    ports.reply(waiter.requester, {
      kind: 'reconciled',
      outcome: 'held',
      holders: state.holders.map((h) => h.workflowId),
      policy: null,
    });
  }
  state.waiters = state.waiters.filter((w) => w.kind !== 'reconcile');
}
