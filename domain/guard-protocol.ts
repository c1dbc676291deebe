/**
 * The contract of the per-VM guard (workflow `vmGuard`), shared by the guard, the runs that hold
 * VMs through it, the reconciler, the Temporal-side activities and the client: its id, its one
 * inbound signal (`vmGuard.request`), the signal it answers with (`vmGuard.reply`, sent to the
 * requester), its query, and the memo it keeps up to date so that its record survives a Terminate.
 * Every message is checked with zod where it arrives: a malformed one is dropped and counted, it
 * never fails a workflow task.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { FlushState, RequestedPolicy, VmPolicy } from './policy';
import { canonicalHostName } from './endpoint';

export const VM_GUARD_WORKFLOW_TYPE = 'vmGuard';
export const VM_GUARD_ID_PREFIX = 'vm-guard/';
/** Temporal's default limit on workflow ids is 1000 characters; VM names may be longer. */
const MAX_ID_LENGTH = 900;

/** FNV-1a (64 bit) of a string, in hex: deterministic and workflow-safe (no crypto module). */
function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const ch of text) {
    hash ^= BigInt(ch.codePointAt(0) ?? 0);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

/**
 * `vm-guard/<fvp server>/<vm>`: the name-keyed guard id of runs before the `guard-by-uuid` patch
 * (workflows/guard/holder.ts). Kept for their histories, for a legacy guard still running when a
 * worker is upgraded (activities/guard-routing.ts), and for the look-ups of its closed record.
 */
export function guardIdFor(fvpServer: string, vm: string): string {
  const id = `${VM_GUARD_ID_PREFIX}${fvpServer}/${vm}`;
  return id.length <= MAX_ID_LENGTH ? id : `${VM_GUARD_ID_PREFIX}${fvpServer}/#${fnv1a64(vm)}`;
}

/**
 * The prefix of identity-keyed guard ids. Not `vm-guard/`: a name key is `vm-guard/<server>/<any
 * characters>` (a VM name may contain '/', '#', or look like a uuid), so only a prefix no name key
 * starts with keeps the two kinds apart.
 */
export const VM_GUARD_UUID_ID_PREFIX = 'vm-guard-uuid/';

/** The FVP server as part of a guard id: one spelling of it (see canonicalHostName). */
export function canonicalFvpServer(fvpServer: string): string {
  return canonicalHostName(fvpServer);
}

/**
 * `vm-guard-uuid/<canonical fvp server>/<vm uuid>`: one guard per VM, keyed on its FVP uuid, so a
 * VM renamed in vCenter (during or between runs) keeps its guard and its record. The uuid is
 * lower-cased like the server (FVP prints uuids in either case); one that would exceed the id
 * limit is hashed, like a long name.
 */
export function guardIdForUuid(fvpServer: string, uuid: string): string {
  const key = uuid.trim().toLowerCase();
  const server = canonicalFvpServer(fvpServer);
  const id = `${VM_GUARD_UUID_ID_PREFIX}${server}/${key}`;
  return id.length <= MAX_ID_LENGTH ? id : `${VM_GUARD_UUID_ID_PREFIX}${server}/#${fnv1a64(key)}`;
}

/** Who holds (or asks): a workflow run. `firstRunId` stays the same across Reset and retries. */
export const Requester = z
  .object({ workflowId: z.string().min(1), runId: z.string().min(1), firstRunId: z.string().min(1) })
  .strict();
export type Requester = z.infer<typeof Requester>;

/** Activity timeouts of the run that started a guard's cycle, in milliseconds. */
export const GuardTimeouts = z
  .object({
    heartbeatMs: z.number().int().positive(),
    stepMs: z.number().int().positive(),
    retryInitialMs: z.number().int().positive(),
    retryMaximumAttempts: z.number().int().min(1),
    restoreMaxIntervalMs: z.number().int().positive(),
    flushPollMs: z.number().int().positive(),
    /** How often an abandoned holder's Veeam job is polled until it is over. */
    jobPollMs: z.number().int().positive(),
  })
  .strict();
export type GuardTimeouts = z.infer<typeof GuardTimeouts>;

/**
 * A guard's record carried by a request: visibility lags (a terminated guard can look Running for a
 * second), so a successor may not find its predecessor's memo; the request brings the record.
 */
export const CarriedRecord = z
  .object({
    recorded: RequestedPolicy,
    alreadyWriteThrough: z.boolean(),
    /**
     * The closed guard run whose record this is (the reconciler's requests): the guard that adopts
     * it says so in its memo (`adoptedFrom`), which is how the reconciler knows it is settled.
     */
    fromRunId: z.string().min(1).optional(),
    /** That run's holders (the reconciler's requests): adopted with the record, checked before any restore. */
    holders: z.array(z.lazy(() => Holder)).optional(),
    /** That run's abandoned jobs (the reconciler's requests): the restore waits until they are over. */
    abandonedJobs: z.array(z.string()).optional(),
  })
  .strict();
export type CarriedRecord = z.infer<typeof CarriedRecord>;

export const GuardRequest = z.discriminatedUnion('kind', [
  /** Hold the VM: record its policy (first holder), write-through, answer `granted` once flushed. */
  z
    .object({
      kind: z.literal('acquire'),
      requester: Requester,
      /** The Veeam job the holder runs: if the holder dies, the guard waits for it before restoring. */
      job: z.string().min(1),
      timeouts: GuardTimeouts,
      /** The VM's FVP uuid as the run read it (runs since `guard-by-uuid`): a legacy guard learns it here. */
      uuid: z.string().min(1).optional(),
    })
    .strict(),
  /** Let go; answered `released` (restored, when this was the last holder). */
  z
    .object({
      kind: z.literal('release'),
      requester: Requester,
      /** The guard's record as the holder was granted it: a successor that cannot see its predecessor yet adopts it. */
      record: CarriedRecord.optional(),
    })
    .strict(),
  /** From the reconciler: check the holders now and restore the VM if nobody live holds it. */
  z
    .object({
      kind: z.literal('reconcile'),
      requester: Requester,
      timeouts: GuardTimeouts,
      /** The closed guard's record, from its memo: what the successor restores if it cannot see it yet. */
      record: CarriedRecord.optional(),
    })
    .strict(),
  /** Check the holders now (an operator's or the reconciler's nudge; no answer). */
  z.object({ kind: z.literal('check') }).strict(),
]);
export type GuardRequest = z.infer<typeof GuardRequest>;

const replyBase = {
  /** What runs match a reply by (workflows/guard/holder.ts): never the name, which may change. */
  guardId: z.string(),
  /** The VM's name as the guard knows it now: a renamed VM's new name once an FVP read said so. */
  vm: z.string(),
  /** The holder the reply is for: a run with another firstRunId under the same workflow id ignores it. */
  firstRunId: z.string(),
};

export const GuardReply = z.discriminatedUnion('kind', [
  z
    .object({
      ...replyBase,
      kind: z.literal('granted'),
      /** The policy the guard recorded before its first switch; what the last holder's release restores. */
      recorded: RequestedPolicy,
      /** Requested write-through before the guard touched it: verified, never "restored". */
      alreadyWriteThrough: z.boolean(),
      state: FlushState,
      /** How many runs hold the VM now, this one included. */
      holders: z.number().int().min(1),
    })
    .strict(),
  z.object({ ...replyBase, kind: z.literal('progress'), state: FlushState }).strict(),
  /**
   * While the holders' jobs run, the VM left write-through or its flush (an admin, FVP itself, a
   * stale write): what the guard saw. The guard protects it again; the holders' backups of it may
   * not be consistent, and their runs say so.
   */
  z.object({ ...replyBase, kind: z.literal('drift'), state: FlushState, message: z.string() }).strict(),
  z.object({ ...replyBase, kind: z.literal('refused'), message: z.string(), type: z.string() }).strict(),
  z
    .object({
      ...replyBase,
      kind: z.literal('released'),
      /** True when this release ended the hold and the recorded policy is back (verified). */
      restored: z.boolean(),
      /** Already write-through before the guard: left as it was. */
      leftAlone: z.boolean(),
      /** Runs still holding the VM after this release. */
      holders: z.number().int().min(0),
      policy: VmPolicy.nullable(),
      restoreAttempts: z.number().int().min(0),
      /** Someone else changed the VM's policy during the hold: kept as they set it, not restored (why). */
      keptChange: z.string().optional(),
      /**
       * The hold ended without a restore because none can ever succeed, and nothing is left in
       * write-through on FVP: FVP no longer knows the VM (deleted, or removed from FVP), or no
       * longer accelerates it (out of its FVP cluster). Runs report it loudly. Absent otherwise.
       */
      outcome: z.enum(['vm-gone', 'not-accelerated']).optional(),
    })
    .strict(),
  /** A restore that keeps failing (it never gives up): the waiting runs show it. */
  z
    .object({ ...replyBase, kind: z.literal('restore-failing'), attempts: z.number().int(), lastError: z.string() })
    .strict(),
  z
    .object({
      ...replyBase,
      kind: z.literal('reconciled'),
      outcome: z.enum(['restored', 'in-place', 'held', 'left-alone', 'unknown-vm', 'kept-change']),
      holders: z.array(z.string()),
      policy: VmPolicy.nullable(),
    })
    .strict(),
]);
export type GuardReply = z.infer<typeof GuardReply>;

export const vmGuardRequestSignal = defineSignal<[GuardRequest]>('vmGuard.request');
export const vmGuardReplySignal = defineSignal<[GuardReply]>('vmGuard.reply');

export const GuardPhase = z.enum([
  'starting',
  'idle',
  'switching',
  'flushing',
  'protected',
  'waiting-for-abandoned-jobs',
  'restoring',
  'restore-failing',
  'done',
  /** The last hold ended without a restore: FVP no longer knows the VM (restore-policy.ts). */
  'vm-gone',
  /** The last hold ended without a restore: the VM is no longer in an FVP cluster. */
  'not-accelerated',
]);
export type GuardPhase = z.infer<typeof GuardPhase>;

export const Holder = z
  .object({
    workflowId: z.string(),
    runId: z.string(),
    firstRunId: z.string(),
    job: z.string(),
    /** Workflow-clock ISO time of its acquire. */
    since: z.string(),
    granted: z.boolean(),
  })
  .strict();
export type Holder = z.infer<typeof Holder>;

/** What a successor guard adopts: the hold as it stood when the guard last changed it. */
export const GuardRecord = z
  .object({
    recorded: RequestedPolicy.nullable(),
    alreadyWriteThrough: z.boolean(),
    /** Set *before* the switch is sent, cleared only once the restore is verified. */
    writeThrough: z.boolean(),
    holders: z.array(Holder),
    /** Jobs of holders that died after their grant: the restore waits until they have no live session. */
    abandonedJobs: z.array(z.string()),
    phase: GuardPhase,
    /**
     * The closed guard run whose record this guard took charge of (adopted, or found already back),
     * or null: the reconciler calls a closed run settled only by a newer run that names it here.
     * Absent in memos written before the field existed. Inside `record`, where null survives.
     */
    adoptedFrom: z.string().nullable().optional(),
  })
  .strict();
export type GuardRecord = z.infer<typeof GuardRecord>;

/**
 * The guard's memo, upserted whenever its record changes: what a successor guard (started after
 * this one was terminated) adopts, and what the reconciler and `guard status` read from closed
 * guards. The record is one nested value: Temporal drops top-level memo keys whose value is null
 * or empty, and a record with holes must not pass for a complete one. A guard that never recorded
 * anything has no `record` (only the kind, VM and server it was started with).
 */
export const GuardMemo = z.object({
  kind: z.literal('vm-guard'),
  /** The VM's current name (a guard that knows the uuid follows a rename). */
  vm: z.string(),
  fvpServer: z.string(),
  /** The VM's FVP uuid, when the guard knows it (guards since `guard-by-uuid`). */
  uuid: z.string().optional(),
  record: GuardRecord,
});
export type GuardMemo = z.infer<typeof GuardMemo>;

/**
 * `record.adoptedFrom` of a guard that adopted the record a holder's release carried (the release
 * does not name the guard run that granted it): the releasing run. The reconciler reads it as
 * "took over the record of the closed guard that had this holder".
 */
export function adoptedFromRelease(holder: { workflowId: string; firstRunId: string }): string {
  return `release:${holder.workflowId}#${holder.firstRunId}`;
}

/** A release or reconcile request waiting for the end of the hold. */
export const Waiter = z.object({ kind: z.enum(['release', 'reconcile']), requester: Requester }).strict();
export type Waiter = z.infer<typeof Waiter>;

/** The guard's whole state: carried through continue-as-new, returned by the `state` query. */
export const GuardState = z
  .object({
    /** The VM's current name: a guard that knows the uuid takes the name its activities answer with. */
    vm: z.string(),
    fvpServer: z.string(),
    /** The VM's FVP uuid: every FVP activity addresses the VM by it when known. Absent in older guards. */
    uuid: z.string().min(1).optional(),
    phase: GuardPhase,
    recorded: RequestedPolicy.nullable(),
    alreadyWriteThrough: z.boolean(),
    /** This guard requested write-through and has not yet restored (verified) the recorded policy. */
    writeThrough: z.boolean(),
    /** Flush verified since the last switch: later holders are re-verified once, then granted. */
    flushed: z.boolean(),
    holders: z.array(Holder),
    waiters: z.array(Waiter),
    abandonedJobs: z.array(z.string()),
    /** Unprocessed requests (carried through continue-as-new: no signal is lost). */
    inbox: z.array(GuardRequest),
    timeouts: GuardTimeouts.nullable(),
    lastFlush: FlushState.nullable(),
    restoreAttempts: z.number().int(),
    lastError: z.string().nullable(),
    /** Run id of a terminated predecessor whose record this guard adopted. */
    adoptedFrom: z.string().nullable(),
    counts: z
      .object({
        acquires: z.number().int(),
        releases: z.number().int(),
        switches: z.number().int(),
        restores: z.number().int(),
        droppedHolders: z.number().int(),
        rejectedMessages: z.number().int(),
        continuedAsNew: z.number().int(),
      })
      .strict(),
  })
  .strict();
export type GuardState = z.infer<typeof GuardState>;

export const vmGuardStateQuery = defineQuery<GuardState>('state');

export const VmGuardInput = z
  .object({
    vm: z.string().min(1),
    fvpServer: z.string().min(1),
    /** The VM's FVP uuid (guards started by runs since `guard-by-uuid`). */
    uuid: z.string().min(1).optional(),
    /** Set only by continue-as-new. */
    carried: GuardState.optional(),
  })
  .strict();
export type VmGuardInput = z.infer<typeof VmGuardInput>;

export interface VmGuardResult {
  vm: string;
  fvpServer: string;
  /** Run id of the terminated predecessor whose record this guard (chain) adopted, if any. */
  adoptedFrom: string | null;
  counts: GuardState['counts'];
}

/** One signal-with-start of a guard, as the holders and the reconciler ask the activity to send it. */
export const GuardDelivery = z
  .object({
    guardId: z.string().min(1),
    vm: z.string().min(1),
    fvpServer: z.string().min(1),
    /** The VM's FVP uuid: given to a guard this delivery starts (its input and memo). */
    uuid: z.string().min(1).optional(),
    request: GuardRequest,
  })
  .strict();
export type GuardDelivery = z.infer<typeof GuardDelivery>;

/** The worker's guard settings, which workflows read through the `vmGuardSettings` activity. */
export interface GuardSettings {
  /** The FVP management server this worker's activities talk to: part of every guard id. */
  fvpServer: string;
  /** How often a guard checks that its holders are still running. */
  holderCheckIntervalMs: number;
  /** How long a run waits for a guard's answer before it sends its request again. */
  resendIntervalMs: number;
  /** History length beyond which a guard continues as new. */
  historyLimit: number;
  /**
   * The step timeouts every guard works with, from the worker's configuration (absent in the
   * answers recorded by workers before it: those guards used their first acquirer's timeouts).
   */
  timeouts?: GuardTimeouts;
}
