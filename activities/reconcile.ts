/**
 * The reconciler's look-up: guards that closed without cleaning up (terminated, timed out, failed)
 * while their memo still said "write-through requested, not yet restored", and that are still the
 * newest run of their id. A newer run (running, or completed) owns or already settled the VM: it
 * adopted the record when it started. The CLI's `guard status` uses the same function.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { RequestedPolicy } from '../domain/policy';
import { listUncleanGuards, type ClosedGuard, type TemporalDependencies } from './vm-guard';

export interface UnrestoredGuard {
  guardId: string;
  vm: string;
  fvpServer: string;
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
}

/** Unrestored guards, of one FVP server or (without `fvpServer`) of all. */
export async function findUnrestoredGuards(client: Client, fvpServer?: string): Promise<UnrestoredGuard[]> {
  const newestPerId = new Map<string, ClosedGuard>();
  for (const closed of await listUncleanGuards(client)) {
    if (fvpServer !== undefined && closed.memo.fvpServer !== fvpServer) continue;
    if (!newestPerId.has(closed.guardId)) newestPerId.set(closed.guardId, closed);
  }
  const found: UnrestoredGuard[] = [];
  for (const closed of newestPerId.values()) {
    if (!closed.memo.record.writeThrough) continue; // closed clean enough: nothing left in write-through
    try {
      const latest = await client.workflow.getHandle(closed.guardId).describe();
      // A running successor owns the VM (it adopted this record); a completed one settled it. A
      // successor that closed before it recorded anything did neither.
      const settled = ['RUNNING', 'COMPLETED', 'CONTINUED_AS_NEW'].includes(latest.status.name);
      if (latest.runId !== closed.runId && settled) continue;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    const { vm, fvpServer, record: memo } = closed.memo;
    found.push({
      guardId: closed.guardId,
      vm,
      fvpServer,
      runId: closed.runId,
      status: closed.status,
      closedAt: closed.closedAt,
      recorded: memo.recorded,
      holders: memo.holders.map((h) => h.workflowId),
      holderRuns: memo.holders.map(({ workflowId, firstRunId }) => ({ workflowId, firstRunId })),
      abandonedJobs: [...new Set([...memo.abandonedJobs, ...memo.holders.filter((h) => h.granted).map((h) => h.job)])],
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
