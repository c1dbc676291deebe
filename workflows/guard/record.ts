/**
 * What a guard records: the policy it gives back at the end of a hold, decided from what it could
 * read (a predecessor's record, the VM's policy now), and the memo that keeps that record for a
 * successor when the guard is terminated. Pure: state.ts calls it.
 */
import type { ClosedGuard } from '../../activities/vm-guard';
import type { CarriedRecord, GuardMemo, GuardState } from '../../domain/guard-protocol';
import type { VmPolicy } from '../../domain/policy';

/** What a read of a predecessor or a policy gave: a value, or an error to wait out. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };
export type RecordDecision = 'recorded' | 'unknown-vm' | 'undecided';

export const now = (): string => new Date(Date.now()).toISOString(); // workflow clock: deterministic

export const sameRun = (
  a: { workflowId: string; firstRunId: string },
  b: { workflowId: string; firstRunId: string },
): boolean => a.workflowId === b.workflowId && a.firstRunId === b.firstRunId;

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

/**
 * The record of a predecessor that did not clean up (it says write-through was left in place)
 * wins: the VM gets that record back, never "write-through". Else the VM's requested policy now,
 * but a VM in write-through is recorded only once the predecessor lookup answered (it may be a
 * predecessor's leftover). A VM FVP does not know is said; anything else waits for another read.
 */
export function decideRecord(
  state: GuardState,
  predecessor: Outcome<ClosedGuard | null>,
  policy: Outcome<VmPolicy | null>,
): { decision: RecordDecision; adopted: boolean } {
  const adopt = predecessor.ok && predecessor.value?.memo.record.writeThrough ? predecessor.value : null;
  const current = policy.ok ? policy.value : undefined;
  if (adopt && adopt.memo.record.recorded) {
    adoptRecord(state, adopt, current);
    return { decision: 'recorded', adopted: true };
  }
  if (current === null) return { decision: 'unknown-vm', adopted: false };
  // No predecessor in sight, the VM in write-through, and a request that carries the record it was
  // granted under: a predecessor that visibility does not show yet left it so. Its record, never
  // "already write-through".
  const carried = carriedRecord(state);
  if (!adopt && carried && current?.requested.mode === 'WriteThrough' && carried.recorded.mode === 'WriteBack') {
    state.recorded = carried.recorded;
    state.alreadyWriteThrough = carried.alreadyWriteThrough;
    state.writeThrough = true;
    return { decision: 'recorded', adopted: true };
  }
  if (current !== undefined && (current.requested.mode === 'WriteBack' || predecessor.ok)) {
    state.recorded = current.requested;
    state.alreadyWriteThrough = current.requested.mode === 'WriteThrough';
    state.writeThrough = false;
    return { decision: 'recorded', adopted: false };
  }
  return { decision: 'undecided', adopted: false };
}

/** The record a queued release or reconcile brings (the newest), if any. */
function carriedRecord(state: GuardState): CarriedRecord | undefined {
  const carried = state.inbox.flatMap((r) =>
    r.kind !== 'acquire' && r.kind !== 'check' && r.record ? [r.record] : [],
  );
  return carried.at(-1);
}

/** Takes over the record, holders and abandoned jobs of a predecessor that did not clean up. */
function adoptRecord(state: GuardState, predecessor: ClosedGuard, current: VmPolicy | null | undefined): void {
  const record = predecessor.memo.record;
  state.recorded = record.recorded;
  state.alreadyWriteThrough = record.alreadyWriteThrough;
  state.adoptedFrom = predecessor.runId;
  // Still write-through (or unknown): the restore is owed. Already back: nothing left to restore.
  state.writeThrough = current === undefined || current === null || current.requested.mode === 'WriteThrough';
  // Holders that already asked to release (queued or waiting) are not adopted back.
  const releasing = [
    ...state.waiters.map((w) => w.requester),
    ...state.inbox.flatMap((r) => (r.kind === 'release' ? [r.requester] : [])),
  ];
  for (const holder of record.holders) {
    if (state.holders.some((h) => sameRun(h, holder)) || releasing.some((r) => sameRun(r, holder))) continue;
    state.holders.push({ ...holder });
  }
  for (const job of record.abandonedJobs) if (!state.abandonedJobs.includes(job)) state.abandonedJobs.push(job);
}

/**
 * The guard's memo: what a successor guard adopts and what the reconciler and `guard status` read
 * from closed guards (domain/guard-protocol.ts GuardMemo).
 */
export function memoOf(state: GuardState): GuardMemo {
  return {
    kind: 'vm-guard',
    vm: state.vm,
    fvpServer: state.fvpServer,
    record: {
      recorded: state.recorded,
      alreadyWriteThrough: state.alreadyWriteThrough,
      writeThrough: state.writeThrough,
      holders: state.holders,
      abandonedJobs: state.abandonedJobs,
      phase: state.phase,
    },
  };
}
