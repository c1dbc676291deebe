/**
 * A worker must not serve guards that name its FVP management server differently. Guard ids carry
 * the server (domain/guard-protocol.ts `canonicalFvpServer`: case and a trailing dot do not count),
 * and no vendor evidence names an id of the management server itself, so `fvp01` and
 * `fvp01.corp.local` are two spellings of one server that make two guard ids for one VM. A worker
 * reconfigured from one to the other while guards are still open would start a second guard for a
 * VM an open guard holds in write-through: the second records write-through as the VM's policy,
 * and the first later restores write-back under a backup the second protects.
 *
 * One task queue is one site (worker/site.ts), so every guard running on this queue belongs to this
 * FVP server: one whose memo spells it otherwise means the configuration changed under open guards.
 * The worker refuses to start until they have closed, or until it is configured as they were.
 * Read from visibility: a guard started in the last second may be missed, which is the time a
 * reconfigured worker takes to start anyway (the old one was stopped first).
 */
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { canonicalFvpServer, VM_GUARD_WORKFLOW_TYPE } from '../domain/guard-protocol';
import { escapeQuery } from '../activities/vm-guard';
import { ConfigError } from './config';

/** Only the spelling matters here; a guard whose memo has none yet (before its first task) says nothing. */
const SpelledMemo = z.object({ fvpServer: z.string().min(1) });

/** At most this many guards are named in the error: enough to find them in the Web UI. */
const NAMED = 3;

export async function requireGuardsOfThisServer(client: Client, taskQueue: string, fvpServer: string): Promise<void> {
  const ours = canonicalFvpServer(fvpServer);
  const query =
    `WorkflowType = '${VM_GUARD_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'` +
    ` AND TaskQueue = '${escapeQuery(taskQueue)}'`;
  const others: { guardId: string; fvpServer: string }[] = [];
  for await (const info of client.workflow.list({ query, pageSize: 200 })) {
    const memo = SpelledMemo.safeParse(info.memo ?? {});
    if (memo.success && canonicalFvpServer(memo.data.fvpServer) !== ours) {
      others.push({ guardId: info.workflowId, fvpServer: memo.data.fvpServer });
    }
  }
  if (others.length === 0) return;
  const spellings = [...new Set(others.map((o) => JSON.stringify(o.fvpServer)))].join(', ');
  const named = others
    .slice(0, NAMED)
    .map((o) => o.guardId)
    .join(', ');
  throw new ConfigError(
    `FVPB_FVP_SERVER is ${JSON.stringify(fvpServer)}, but ${others.length} guard(s) running on task queue ` +
      `${JSON.stringify(taskQueue)} were started for FVP server ${spellings} (${named}${others.length > NAMED ? ', …' : ''}): ` +
      `a second spelling of one server would make a second guard for a VM they hold; configure the spelling ` +
      `they use until they have closed (\`fvpb guard status\`), or, if this is another FVP server, give it its own TEMPORAL_TASK_QUEUE`,
  );
}
