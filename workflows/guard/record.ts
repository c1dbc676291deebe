/**
 * What a guard records: the policy it gives back at the end of a hold, decided from what it could
 * read (a predecessor's record, the VM's policy now), and the memo that keeps that record for a
 * successor when the guard is terminated; and a record a request carries (a predecessor's, which
 * visibility may not show yet), adopted when the guard's own would leave the VM in write-through.
 * Pure but for one patch check (adoptsCarriedRecords): state.ts and book.ts call it.
 */
import { inWorkflowContext, patched } from '@temporalio/workflow';
import type { ClosedGuard } from '../../activities/vm-guard';
import {
  adoptedFromRelease,
  type CarriedRecord,
  type GuardMemo,
  type GuardRequest,
  type GuardState,
  type Holder,
} from '../../domain/guard-protocol';
import type { VmPolicy } from '../../domain/policy';

/**
 * The patch under which a guard adopts the record a request carries after it recorded (a running
 * guard that took write-through for the VM's own policy) and names the closed run whose record it
 * took charge of (`adoptedFrom`) when the request says which. Asked only when that happens, so
 * histories without such a request replay unchanged.
 */
export const ADOPT_CARRIED_RECORDS = 'adopt-carried-records';

/** Whether this history adopts carried records (always, outside a workflow: the unit tests). */
export function adoptsCarriedRecords(): boolean {
  return !inWorkflowContext() || patched(ADOPT_CARRIED_RECORDS);
}

/** What a read of a predecessor or a policy gave: a value, or an error to wait out. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };
export type RecordDecision = 'recorded' | 'unknown-vm' | 'undecided';

export const now = (): string => new Date(Date.now()).toISOString(); // workflow clock: deterministic

export const sameRun = (
  a: { workflowId: string; firstRunId: string },
  b: { workflowId: string; firstRunId: string },
): boolean => a.workflowId === b.workflowId && a.firstRunId === b.firstRunId;

export function freshGuardState(vm: string, fvpServer: string, uuid?: string): GuardState {
  return {
    vm,
    fvpServer,
    ...(uuid === undefined ? {} : { uuid }),
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
  const carrying = carryingRequest(state);
  const carried = carrying?.record;
  if (current === null) {
    // Nothing to give back to a VM FVP does not know: the carried record is settled too.
    if (carried?.fromRunId && adoptsCarriedRecords()) state.adoptedFrom = carried.fromRunId;
    return { decision: 'unknown-vm', adopted: false };
  }
  // No predecessor in sight, the VM in write-through, and a request that carries the record it was
  // granted under: a predecessor that visibility does not show yet left it so. Its record, never
  // "already write-through".
  if (
    !adopt &&
    carrying &&
    current?.requested.mode === 'WriteThrough' &&
    carrying.record.recorded.mode === 'WriteBack'
  ) {
    state.recorded = carrying.record.recorded;
    state.alreadyWriteThrough = carrying.record.alreadyWriteThrough;
    state.writeThrough = true;
    if (adoptsCarriedRecords()) takeCarriedHold(state, carrying);
    return { decision: 'recorded', adopted: true };
  }
  if (current !== undefined && (current.requested.mode === 'WriteBack' || predecessor.ok)) {
    state.recorded = current.requested;
    state.alreadyWriteThrough = current.requested.mode === 'WriteThrough';
    state.writeThrough = false;
    // The carried record's VM is back already (an admin, a later guard): this guard answers for it
    // ('in-place'), and says so, or the reconciler would send the same record again forever.
    if (carried?.fromRunId && current.requested.mode === 'WriteBack' && adoptsCarriedRecords())
      state.adoptedFrom = carried.fromRunId;
    return { decision: 'recorded', adopted: false };
  }
  return { decision: 'undecided', adopted: false };
}

/**
 * A record carried to a guard that already recorded, by a release or a reconcile: adopted when this
 * guard took write-through for the VM's own policy (it could not see the predecessor that switched
 * it) and the record gives a write-back back. A carried record comes only from a guard that
 * switched the VM itself (its holders were granted write-back-to-restore), so even a write-through
 * an admin set before that guard's switch was not the VM's policy. Adoption changes only what the
 * end of the hold restores: the VM stays in write-through for the live holders until the last
 * release. A release from one of this guard's own holders carries this guard's record: nothing new.
 * A reconcile's record (it names its run) that this guard need not adopt is still answered for:
 * this guard's own record gives a write-back back; the closed run's holders and jobs are taken
 * over. Returns whether anything was taken over (the holders are then checked).
 */
export function adoptCarriedAfterRecord(state: GuardState, request: Carrying): boolean {
  const carried = request.record;
  if (!carried || state.recorded === null) return false;
  if (request.kind === 'release' && state.holders.some((h) => sameRun(h, request.requester))) return false;
  const owed = state.alreadyWriteThrough && !carried.alreadyWriteThrough && carried.recorded.mode === 'WriteBack';
  if (!owed) {
    if (!carried.fromRunId || state.alreadyWriteThrough || !adoptsCarriedRecords()) return false;
    // Its own record stays; the closed run's holders are kept safe all the same (their jobs may
    // still read the disks: the end of this hold waits for them too).
    takeCarriedHold(state, { ...request, record: carried });
    return true;
  }
  if (!adoptsCarriedRecords()) return false;
  state.recorded = carried.recorded;
  state.alreadyWriteThrough = false;
  // This guard did not switch the VM, but it owes the restore now: the VM is in write-through
  // because its predecessor switched it (verified by this guard's own flush check).
  state.writeThrough = true;
  takeCarriedHold(state, { ...request, record: carried });
  return true;
}

/**
 * Names the carried record's run (a release names none: its releasing run instead, one of that
 * run's holders), and takes over its holders and abandoned jobs (the reconciler's requests).
 */
function takeCarriedHold(state: GuardState, request: Carrying & { record: CarriedRecord }): void {
  const { record } = request;
  state.adoptedFrom = record.fromRunId ?? adoptedFromRelease(request.requester);
  adoptHolders(state, record.holders ?? [], record.abandonedJobs ?? []);
}

type Carrying = Extract<GuardRequest, { kind: 'release' | 'reconcile' }>;

/** The queued release or reconcile that brings a record (the newest), if any. */
function carryingRequest(state: GuardState): (Carrying & { record: CarriedRecord }) | undefined {
  const carrying = state.inbox.flatMap((r) =>
    (r.kind === 'release' || r.kind === 'reconcile') && r.record ? [{ ...r, record: r.record }] : [],
  );
  return carrying.at(-1);
}

/** Takes over the record, holders and abandoned jobs of a predecessor that did not clean up. */
function adoptRecord(state: GuardState, predecessor: ClosedGuard, current: VmPolicy | null | undefined): void {
  const record = predecessor.memo.record;
  state.recorded = record.recorded;
  state.alreadyWriteThrough = record.alreadyWriteThrough;
  state.adoptedFrom = predecessor.runId;
  // Still write-through (or unknown): the restore is owed. Already back: nothing left to restore.
  state.writeThrough = current === undefined || current === null || current.requested.mode === 'WriteThrough';
  adoptHolders(state, record.holders, record.abandonedJobs);
}

/** Takes over a predecessor's holders (but those that already asked to release) and abandoned jobs. */
function adoptHolders(state: GuardState, holders: Holder[], abandonedJobs: string[]): void {
  // Holders that already asked to release (queued or waiting) are not adopted back.
  const releasing = [
    ...state.waiters.map((w) => w.requester),
    ...state.inbox.flatMap((r) => (r.kind === 'release' ? [r.requester] : [])),
  ];
  for (const holder of holders) {
    if (state.holders.some((h) => sameRun(h, holder)) || releasing.some((r) => sameRun(r, holder))) continue;
    state.holders.push({ ...holder });
  }
  for (const job of abandonedJobs) if (!state.abandonedJobs.includes(job)) state.abandonedJobs.push(job);
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
    // Absent for guards that never knew it: their memos stay as they were.
    ...(state.uuid === undefined ? {} : { uuid: state.uuid }),
    record: {
      recorded: state.recorded,
      alreadyWriteThrough: state.alreadyWriteThrough,
      writeThrough: state.writeThrough,
      holders: state.holders,
      abandonedJobs: state.abandonedJobs,
      phase: state.phase,
      adoptedFrom: state.adoptedFrom,
    },
  };
}
