/**
 * Starting a run: the input validated before it leaves the process, the id that keeps two runs of
 * one job apart, and what happens when a run of the job is already open (refuse, or attach to it).
 */
import { randomUUID } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import type { ProtectedBackupRequest } from '../workflows/input';
import type { protectedBackup } from '../workflows/protected-backup';
import type { RunStatus } from '../workflows/status';
import { ProtectedBackupRunError, RunAlreadyActiveError } from './errors';
import { jobOf, WORKFLOW_TYPE, workflowIdFor } from './ids';
import { runSummary, startDetails } from './metadata';
import { validateRequest } from './request';
import { waitForOutcome } from './run-outcome';
import { startSearchAttributes } from './search-attributes';

export type ProtectedBackupHandle = WorkflowHandle<typeof protectedBackup>;

export interface StartOptions {
  taskQueue: string;
  /** Default `protected-backup/<job>`: the id that keeps two runs of one job apart. */
  workflowId?: string;
  /** A run of the job is already open: refuse (default) or follow that run instead. */
  ifRunning?: 'fail' | 'attach';
  /**
   * Through what the run is started, for its details in the Web UI (default "the client library");
   * who started it is the client's identity (see connect()).
   */
  via?: string;
}

export interface StartedRun {
  handle: ProtectedBackupHandle;
  workflowId: string;
  runId: string;
  job: string;
  /** True when `ifRunning: 'attach'` found a run already open and returned it. */
  attached: boolean;
}

export async function startProtectedBackup(
  client: Client,
  request: ProtectedBackupRequest,
  options: StartOptions,
): Promise<StartedRun> {
  const input = validateRequest(request);
  const workflowId = options.workflowId ?? workflowIdFor(input.job);
  const attach = options.ifRunning === 'attach';
  if (!attach) await refuseIfScheduledRunOpen(client, input.job, workflowId);
  const nonce = randomUUID();
  let handle: WorkflowHandleWithFirstExecutionRunId<typeof protectedBackup>;
  try {
    handle = await client.workflow.start<typeof protectedBackup>(WORKFLOW_TYPE, {
      taskQueue: options.taskQueue,
      workflowId,
      args: [request],
      memo: { job: input.job, startRequest: nonce },
      // Searchable by job and by the VMs it names from the start, before the workflow upserts more.
      typedSearchAttributes: startSearchAttributes(input.job, input.vms),
      staticSummary: runSummary(input),
      staticDetails: startDetails({
        input: request,
        startedBy: client.options.identity,
        via: options.via ?? 'the client library',
      }),
      workflowIdConflictPolicy: attach ? 'USE_EXISTING' : 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      const runId = await client.workflow
        .getHandle(workflowId)
        .describe()
        .then((d) => d.runId)
        .catch(() => undefined);
      throw new RunAlreadyActiveError(input.job, workflowId, runId);
    }
    throw err;
  }
  let attached = false;
  if (attach) {
    const description = await handle.describe();
    attached = description.memo?.startRequest !== nonce;
  }
  return { handle, workflowId, runId: handle.firstExecutionRunId, job: input.job, attached };
}

/**
 * A run of the job started by a schedule has another id (the server appends the time): refuse a
 * manual start while one is open. Best effort: visibility lags by up to a second or so.
 */
async function refuseIfScheduledRunOpen(client: Client, job: string, workflowId: string): Promise<void> {
  const query = `WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`;
  for await (const info of client.workflow.list({ query, pageSize: 100 })) {
    if (info.workflowId !== workflowId && jobOf(info.workflowId, info.memo) === job) {
      throw new RunAlreadyActiveError(job, info.workflowId, info.runId);
    }
  }
}

/** Starts a run and waits for its report; throws ProtectedBackupRunError unless it completed. */
export async function executeProtectedBackup(
  client: Client,
  request: ProtectedBackupRequest,
  options: StartOptions,
): Promise<RunStatus> {
  const run = await startProtectedBackup(client, request, options);
  const outcome = await waitForOutcome(run.handle);
  if ((outcome.kind === 'success' || outcome.kind === 'warning') && outcome.report) return outcome.report;
  throw new ProtectedBackupRunError(outcome);
}
