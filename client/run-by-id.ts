/**
 * One existing run, named by its workflow id (and run id): what it is doing or how it ended, and
 * asking it to cancel. An id that names no run, or a workflow of another type, is RunNotFoundError.
 */
import {
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionStatusName,
  type WorkflowHandle,
} from '@temporalio/client';
import type { protectedBackup } from '../workflows/protected-backup';
import type { RunStatus } from '../workflows/status';
import { RunNotFoundError } from './errors';
import { jobOf, WORKFLOW_TYPE } from './ids';
import { queryStatus, waitForOutcome, type RunOutcome } from './run-outcome';
import type { ProtectedBackupHandle } from './start-run';

export interface RunInfo {
  workflowId: string;
  runId: string;
  job: string | null;
  executionStatus: WorkflowExecutionStatusName;
  startTime: string;
  closeTime: string | null;
  /** Live status while running (null if the query could not be answered); the report once closed. */
  status: RunStatus | null;
  /** Set once the run closed. */
  outcome: RunOutcome | null;
}

function handleFor(client: Client, workflowId: string, runId?: string): ProtectedBackupHandle {
  return client.workflow.getHandle<typeof protectedBackup>(workflowId, runId);
}

async function describeRun(handle: WorkflowHandle) {
  try {
    const description = await handle.describe();
    if (description.type !== WORKFLOW_TYPE) {
      throw new RunNotFoundError(
        `workflow ${JSON.stringify(handle.workflowId)} is a ${description.type}, not a ${WORKFLOW_TYPE} run`,
      );
    }
    return description;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new RunNotFoundError(`no run with workflow id ${JSON.stringify(handle.workflowId)}`);
    }
    throw err;
  }
}

/** What a run is doing (running) or how it ended (closed). */
export async function readRun(client: Client, workflowId: string, runId?: string): Promise<RunInfo> {
  const handle = handleFor(client, workflowId, runId);
  const description = await describeRun(handle);
  const running = description.status.name === 'RUNNING';
  const outcome = running ? null : await waitForOutcome(handleFor(client, workflowId, description.runId));
  const status = running ? await queryStatus(handle).catch(() => null) : (outcome?.report ?? null);
  return {
    workflowId,
    runId: description.runId,
    job: jobOf(workflowId, description.memo) ?? status?.job ?? null,
    executionStatus: description.status.name,
    startTime: description.startTime.toISOString(),
    closeTime: description.closeTime?.toISOString() ?? null,
    status,
    outcome,
  };
}

/**
 * Asks the run to cancel: it stops (or lets finish, per its input) the Veeam job, then restores
 * every VM's recorded policy before it closes as cancelled. Never terminates.
 */
export async function cancelProtectedBackup(client: Client, workflowId: string, runId?: string): Promise<void> {
  const handle = handleFor(client, workflowId, runId);
  const description = await describeRun(handle);
  if (description.status.name !== 'RUNNING') {
    throw new RunNotFoundError(
      `run ${JSON.stringify(workflowId)} is not running (${description.status.name.toLowerCase()}): nothing to cancel`,
    );
  }
  await handle.cancel();
}
