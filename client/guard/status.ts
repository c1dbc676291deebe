/**
 * What `guard status` shows: the per-VM guards an operator should know about.
 *
 * - running guards (visibility `WorkflowType = 'vmGuard' AND ExecutionStatus = 'Running'`), each
 *   with the state its `state` query returns: phase, recorded policy, holders, abandoned jobs;
 * - guards that closed without cleaning up and left their VM in write-through (what the
 *   reconciler will restore), from their memo.
 *
 *   const status = await readGuardStatus(client, { vm: 'sql-01' });
 *   for (const line of formatGuardStatus(status)) console.log(line);
 *
 * The CLI command (client/cli/guard.ts) prints the same lines, or the status as JSON, through Output.
 */
import type { Client } from '@temporalio/client';
import { findUnrestoredGuards, type UnrestoredGuard } from '../../activities/reconcile';
import { VM_GUARD_WORKFLOW_TYPE, vmGuardStateQuery, type GuardState } from '../../domain/guard-protocol';

export interface GuardStatusOptions {
  /** Only this VM's guard. */
  vm?: string;
  /** Only guards of this FVP management server. */
  fvpServer?: string;
}

export interface RunningGuard {
  guardId: string;
  runId: string;
  startedAt: string;
  /** The guard's own view (its `state` query); null when the query failed (see `error`). */
  state: GuardState | null;
  error?: string;
}

export interface GuardStatus {
  running: RunningGuard[];
  unrestored: UnrestoredGuard[];
}

export async function readGuardStatus(client: Client, options: GuardStatusOptions = {}): Promise<GuardStatus> {
  const running: RunningGuard[] = [];
  const query = `WorkflowType = '${VM_GUARD_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`;
  for await (const info of client.workflow.list({ query })) {
    const memo = info.memo ?? {};
    if (options.vm !== undefined && memo.vm !== options.vm) continue;
    if (options.fvpServer !== undefined && memo.fvpServer !== options.fvpServer) continue;
    const entry: RunningGuard = {
      guardId: info.workflowId,
      runId: info.runId,
      startedAt: info.startTime.toISOString(),
      state: null,
    };
    try {
      entry.state = await client.workflow.getHandle(info.workflowId, info.runId).query(vmGuardStateQuery);
    } catch (err) {
      entry.error = err instanceof Error ? err.message : String(err);
    }
    running.push(entry);
  }
  const unrestored = (await findUnrestoredGuards(client, options.fvpServer)).filter(
    (g) => options.vm === undefined || g.vm === options.vm,
  );
  running.sort((a, b) => a.guardId.localeCompare(b.guardId));
  return { running, unrestored };
}

export { formatGuardStatus } from './format';
