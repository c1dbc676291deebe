/**
 * The reconciler's look-up: guards that closed without cleaning up (terminated, timed out, failed)
 * while their memo still said "write-through requested, not yet restored", and that no newer run of
 * their id took charge of. The CLI's `guard status` uses the same function.
 *
 * Taking charge is said by the newer run itself, in its memo's `adoptedFrom`, never inferred from
 * its status: visibility lags, so a successor started right after a terminate may not have seen
 * its predecessor's memo, taken the write-through it found for the VM's own policy, completed after
 * "leaving it alone", and the VM would stay in write-through for good. So:
 * - per guard id, the candidate is the newest closed unclean run that owes a restore (newer unclean
 *   runs that owe nothing do not hide it: they may be such blind successors, terminated in turn);
 * - it is settled only by a run started after it closed (running, completed, continued as new or
 *   closed) whose memo names it in `adoptedFrom`: that run adopted its record (and restored it or
 *   owes it), or found the VM back already, or FVP without the VM; or names one of its holders,
 *   whose release carried its record to that run (domain/guard-protocol.ts adoptedFromRelease);
 * - memos written before `adoptedFrom` existed cannot say: a newer run with such a memo settles it
 *   as before (a guard of that code adopted what its look-up found);
 * - a newer run that never recorded anything (a bare memo) settles nothing;
 * - a guard of ANOTHER id for the same VM settles it too when its memo names the closed run in
 *   `adoptedFrom`, exactly (no other rule): since `guard-by-uuid` a VM's guard is keyed on its
 *   uuid, and the first uuid-keyed guard adopts what the VM's name-keyed guard left unclean
 *   (vm-guard.ts findGuardPredecessor `alsoGuardIds`). Found by the FvpbVms search attribute (the
 *   VM's name: a VM renamed since is not found this way, and its closed guard is reconciled: a
 *   successor of that name finds no such VM and settles it as unknown).
 * An unsettled candidate is reconciled: its id is sent `reconcile` with its record, holders and
 * abandoned jobs (`carried`, naming its run), and the guard that gets it (a fresh successor, or a
 * running one that took write-through for the VM's own) adopts it and names it. Converges: the
 * next pass finds that guard's `adoptedFrom`, even when the VM was back already ('in-place').
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { adoptedFromRelease, GuardMemo, VM_GUARD_WORKFLOW_TYPE, type CarriedRecord } from '../domain/guard-protocol';
import type { RequestedPolicy } from '../domain/policy';
import { VMS_ATTRIBUTE } from '../domain/search-attributes';
import { escapeQuery, listUncleanGuards, type ClosedGuard, type TemporalDependencies } from './vm-guard';

export interface UnrestoredGuard {
  guardId: string;
  vm: string;
  fvpServer: string;
  /** The VM's FVP uuid, from the closed guard's memo (guards since `guard-by-uuid`). */
  uuid?: string;
  /** The closed run that left the VM in write-through. */
  runId: string;
  status: string;
  closedAt: string | null;
  recorded: RequestedPolicy | null;
  /** Workflow ids of the runs that held the VM when the guard closed. */
  holders: string[];
  holderRuns: { workflowId: string; firstRunId: string }[];
  /** Jobs that may still read the disks (of holders granted the VM): the restore waits for them. */
  abandonedJobs: string[];
  /** The run of the id that runs now without having taken this record over (it is sent the record). */
  successor?: { runId: string; status: string };
  /** What the reconcile request carries to the guard, naming this run (absent without a record). */
  carried?: CarriedRecord;
}

interface RunOfId {
  runId: string;
  status: string;
  memo: Record<string, unknown> | undefined;
}

/** Whether a newer run of the id took charge of the closed run's record (see the header). */
function settles(run: RunOfId, closed: ClosedGuard): boolean {
  const memo = GuardMemo.safeParse(run.memo ?? {});
  if (!memo.success) return false; // never recorded anything
  const { adoptedFrom } = memo.data.record;
  if (adoptedFrom === undefined || adoptedFrom === closed.runId) return true;
  // The record one of the closed run's holders carried in its release: the closed run's own.
  return closed.memo.record.holders.some((holder) => adoptedFromRelease(holder) === adoptedFrom);
}

/** The runs of a guard id started since the closed run closed (visibility), and its latest run (described: no lag). */
async function newerRuns(client: Client, closed: ClosedGuard): Promise<{ runs: RunOfId[]; latest: RunOfId | null }> {
  const runs: RunOfId[] = [];
  const query = `WorkflowType = '${VM_GUARD_WORKFLOW_TYPE}' AND WorkflowId = '${escapeQuery(closed.guardId)}'`;
  for await (const info of client.workflow.list({ query, pageSize: 100 })) {
    if (info.runId === closed.runId) continue;
    if (closed.closedAt !== null && info.startTime.toISOString() < closed.closedAt) continue;
    runs.push({ runId: info.runId, status: info.status.name, memo: info.memo });
  }
  let latest: RunOfId | null = null;
  try {
    const described = await client.workflow.getHandle(closed.guardId).describe();
    if (described.runId !== closed.runId) {
      latest = { runId: described.runId, status: described.status.name, memo: described.memo };
      const stale = runs.findIndex((r) => r.runId === described.runId);
      if (stale >= 0) runs.splice(stale, 1, latest);
      else runs.push(latest);
    }
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  return { runs, latest };
}

/**
 * Guard runs of other ids for the closed run's VM (by name, FvpbVms) started since it closed whose
 * memo names it in `adoptedFrom`: a uuid-keyed guard that adopted a name-keyed guard's record.
 */
async function adoptedElsewhere(client: Client, closed: ClosedGuard): Promise<boolean> {
  const query =
    `WorkflowType = '${VM_GUARD_WORKFLOW_TYPE}' AND ${VMS_ATTRIBUTE.name} = '${escapeQuery(closed.memo.vm)}'` +
    ` AND WorkflowId != '${escapeQuery(closed.guardId)}'`;
  for await (const info of client.workflow.list({ query, pageSize: 100 })) {
    if (closed.closedAt !== null && info.startTime.toISOString() < closed.closedAt) continue;
    const memo = GuardMemo.safeParse(info.memo ?? {});
    if (memo.success && memo.data.record.adoptedFrom === closed.runId) return true;
  }
  return false;
}

/** Unrestored guards, of one FVP server or (without `fvpServer`) of all. */
export async function findUnrestoredGuards(client: Client, fvpServer?: string): Promise<UnrestoredGuard[]> {
  const newestPerId = new Map<string, ClosedGuard>();
  for (const closed of await listUncleanGuards(client)) {
    if (fvpServer !== undefined && closed.memo.fvpServer !== fvpServer) continue;
    if (!closed.memo.record.writeThrough) continue; // closed clean enough: nothing left in write-through
    if (!newestPerId.has(closed.guardId)) newestPerId.set(closed.guardId, closed);
  }
  const found: UnrestoredGuard[] = [];
  for (const closed of newestPerId.values()) {
    const { runs, latest } = await newerRuns(client, closed);
    if (runs.some((run) => settles(run, closed))) continue;
    if (await adoptedElsewhere(client, closed)) continue;
    const { vm, fvpServer, uuid, record: memo } = closed.memo;
    const abandonedJobs = [
      ...new Set([...memo.abandonedJobs, ...memo.holders.filter((h) => h.granted).map((h) => h.job)]),
    ];
    found.push({
      guardId: closed.guardId,
      vm,
      fvpServer,
      ...(uuid === undefined ? {} : { uuid }),
      runId: closed.runId,
      status: closed.status,
      closedAt: closed.closedAt,
      recorded: memo.recorded,
      holders: memo.holders.map((h) => h.workflowId),
      holderRuns: memo.holders.map(({ workflowId, firstRunId }) => ({ workflowId, firstRunId })),
      abandonedJobs,
      ...(latest && latest.status === 'RUNNING' ? { successor: { runId: latest.runId, status: latest.status } } : {}),
      ...(memo.recorded
        ? {
            carried: {
              recorded: memo.recorded,
              alreadyWriteThrough: memo.alreadyWriteThrough,
              fromRunId: closed.runId,
              holders: memo.holders,
              abandonedJobs: memo.abandonedJobs,
            },
          }
        : {}),
    });
  }
  return found.sort((a, b) => a.guardId.localeCompare(b.guardId));
}

export function createReconcileActivities({ client, guard }: TemporalDependencies) {
  return {
    /** This worker's FVP server only: the guards it reconciles restore through this worker's FVP. */
    async findUnrestoredGuards(): Promise<UnrestoredGuard[]> {
      return findUnrestoredGuards(client, guard.fvpServer);
    },
  };
}
