/**
 * Listing runs by the product's search attributes (job, VM, restore pending): the visibility query
 * the server filters with, and the same filters checked again here on every row it returns.
 */
import type { Client, WorkflowExecutionStatusName } from '@temporalio/client';
import { jobOf, WORKFLOW_TYPE } from './ids';
import {
  JOB_ATTRIBUTE,
  PHASE_ATTRIBUTE,
  RESTORE_PENDING_ATTRIBUTE,
  visibilityString,
  VMS_ATTRIBUTE,
} from './search-attributes';

export interface ListOptions {
  /** Only runs of this job (search attribute FvpbJob). */
  job?: string;
  /** Only runs that protect this VM (search attribute FvpbVms). */
  vm?: string;
  /** Only runs that still owe a VM its policy (search attribute FvpbRestorePending). */
  restorePending?: boolean;
  /** Most recent first; default 20. */
  limit?: number;
  /** Only open runs. */
  running?: boolean;
}

export interface RunSummary {
  workflowId: string;
  runId: string;
  job: string | null;
  status: WorkflowExecutionStatusName;
  startTime: string;
  closeTime: string | null;
  taskQueue: string;
  /** The VMs the run protects, as far as it has told (search attribute FvpbVms). */
  vms: string[];
  /** Its phase at its last upsert (FvpbPhase); null before the workflow's first one. */
  phase: string | null;
  /** Whether a VM it switched is still not back (FvpbRestorePending); null before it said. */
  restorePending: boolean | null;
}

/**
 * Whether the server matches a value exactly with `=`. Temporal 1.32's SQL visibility (the dev
 * server's SQLite) finds no value holding `\` or `"`, however it is escaped (tried in
 * test/client/metadata.test.ts); such a value is narrowed on the server as far as it can be and
 * matched here.
 */
function serverMatchable(value: string): boolean {
  return !/[\\"]/.test(value);
}

/** The visibility query of a list: the workflow type and each filter the server can match, quoted. */
export function listQuery(options: ListOptions = {}): string {
  const clauses = [`WorkflowType = ${visibilityString(WORKFLOW_TYPE)}`];
  if (options.running) clauses.push(`ExecutionStatus = 'Running'`);
  if (options.job !== undefined) {
    const prefix = options.job.split(/[\\"]/)[0] ?? '';
    if (serverMatchable(options.job)) clauses.push(`${JOB_ATTRIBUTE.name} = ${visibilityString(options.job)}`);
    else if (prefix) clauses.push(`${JOB_ATTRIBUTE.name} STARTS_WITH ${visibilityString(prefix)}`);
  }
  // On a keyword list, `=` means "contains" (and STARTS_WITH is not offered).
  if (options.vm !== undefined && serverMatchable(options.vm)) {
    clauses.push(`${VMS_ATTRIBUTE.name} = ${visibilityString(options.vm)}`);
  }
  if (options.restorePending) clauses.push(`${RESTORE_PENDING_ATTRIBUTE.name} = true`);
  return clauses.join(' AND ');
}

/**
 * Recent runs of protectedBackup (from the UI, code, the CLI or schedules), newest first. The
 * filters are search attributes: a run carries FvpbJob and the VMs its input names from its start,
 * and the workflow upserts the VMs it resolved, its phase and whether a restore is pending. The
 * server filters; every filter is checked again here on the run's attributes (exact, whatever the
 * name holds), so a name the server cannot match costs a longer scan, never a wrong row.
 */
export async function listProtectedBackups(client: Client, options: ListOptions = {}): Promise<RunSummary[]> {
  const limit = options.limit ?? 20;
  const runs: RunSummary[] = [];
  let scanned = 0;
  for await (const info of client.workflow.list({ query: listQuery(options), pageSize: 100 })) {
    scanned += 1;
    const attributes = info.typedSearchAttributes;
    const run: RunSummary = {
      workflowId: info.workflowId,
      runId: info.runId,
      job: attributes.get(JOB_ATTRIBUTE) ?? jobOf(info.workflowId, info.memo),
      status: info.status.name,
      startTime: info.startTime.toISOString(),
      closeTime: info.closeTime?.toISOString() ?? null,
      taskQueue: info.taskQueue,
      vms: attributes.get(VMS_ATTRIBUTE) ?? [],
      phase: attributes.get(PHASE_ATTRIBUTE) ?? null,
      restorePending: attributes.get(RESTORE_PENDING_ATTRIBUTE) ?? null,
    };
    const matches =
      (options.job === undefined || attributes.get(JOB_ATTRIBUTE) === options.job) &&
      (options.vm === undefined || run.vms.includes(options.vm)) &&
      (!options.restorePending || run.restorePending === true);
    if (matches) runs.push(run);
    if (runs.length >= limit || scanned >= 5_000) break;
  }
  return runs.sort((a, b) => b.startTime.localeCompare(a.startTime));
}
