/**
 * The hooks Veeam runs around a job it starts itself (Advanced → Scripts; issue 14).
 *
 * pre-job: starts the job's run in the Veeam-started mode, or joins the one open, with Temporal's
 * update-with-start: one call that starts the workflow if need be and waits for the update's
 * answer, which the run gives once every VM's flush is verified. The update is durable once the
 * server accepted it: a worker that dies meanwhile only delays the answer. The workflow id is the
 * job's (`protected-backup/<job>`), so a second pre-job of the same job joins the same run, and a
 * run of the job started otherwise (CLI, schedule) refuses it (no such update there).
 *
 * post-job: signals the open run that Veeam is done with the job (speeds up the release; the run
 * does not depend on it).
 */
import {
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ProtectedBackupRequest } from '../workflows/input';
import type { protectedBackup } from '../workflows/protected-backup';
import {
  POST_JOB_SIGNAL,
  PRE_JOB_UPDATE,
  PreJobAnswer,
  RUN_ENDING,
  type PostJobNotice,
} from '../workflows/veeam-started-input';
import { WORKFLOW_TYPE, workflowIdFor } from './ids';
import { runSummary, startDetails } from './metadata';
import { validateRequest } from './request';
import { startSearchAttributes } from './search-attributes';

/** The pre-job hook could not have every VM protected: Veeam must not run the job. */
export class PreJobRefusedError extends Error {
  override name = 'PreJobRefusedError';
  constructor(
    message: string,
    readonly type: string | undefined,
  ) {
    super(message);
  }
}

export interface PreJobOptions {
  taskQueue: string;
  /** Gives up (PreJobRefusedError) after this long: below Veeam's script timeout. */
  timeoutMs: number;
  /** Pause between two attempts while the run of the job that is open is releasing. */
  retryPauseMs?: number;
}

/**
 * The flush deadline of a hook's run unless its input sets one: the run's own default (10 minutes)
 * would outlast the hook's default timeout (9 minutes), itself kept below Veeam's script timeout.
 */
export const HOOK_FLUSH_DEADLINE = '5 minutes';

/**
 * The request in the Veeam-started mode: `veeamStarted` set (its defaults unless given), and the
 * hook's flush deadline unless the input sets one.
 */
export function veeamStartedRequest(request: ProtectedBackupRequest): ProtectedBackupRequest {
  const flush =
    request.flush?.deadline === undefined ? { ...request.flush, deadline: HOOK_FLUSH_DEADLINE } : request.flush;
  return { ...request, flush, veeamStarted: request.veeamStarted ?? {} };
}

/** Starts or joins the job's run and resolves once its VMs are protected; throws PreJobRefusedError otherwise. */
export async function preJob(
  client: Client,
  request: ProtectedBackupRequest,
  options: PreJobOptions,
): Promise<PreJobAnswer> {
  const full = veeamStartedRequest(request);
  const input = validateRequest(full);
  const workflowId = workflowIdFor(input.job);
  const deadline = Date.now() + options.timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new PreJobRefusedError(
            `the VMs of ${JSON.stringify(input.job)} were not protected within ${options.timeoutMs} ms; the run goes on and releases them if Veeam starts no session`,
            'HookTimeout',
          ),
        ),
      options.timeoutMs,
    );
  });
  try {
    for (;;) {
      const operation = new WithStartWorkflowOperation<typeof protectedBackup>(WORKFLOW_TYPE, {
        workflowId,
        taskQueue: options.taskQueue,
        args: [full],
        memo: { job: input.job, startedBy: 'veeam-pre-job' },
        typedSearchAttributes: startSearchAttributes(input.job, input.vms),
        staticSummary: `${runSummary(input)}, started by Veeam`,
        staticDetails: startDetails({
          input: full,
          startedBy: client.options.identity,
          via: "Veeam's pre-job script (`hook pre-job`)",
        }),
        // A run of the job already open is joined (its answer is this hook's), a closed one is not.
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      });
      try {
        const answer = await Promise.race([
          client.workflow.executeUpdateWithStart(PRE_JOB_UPDATE, { startWorkflowOperation: operation }),
          timedOut,
        ]);
        return PreJobAnswer.parse(answer);
      } catch (err) {
        const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
        if (cause instanceof ApplicationFailure && cause.type === RUN_ENDING && Date.now() < deadline) {
          // The open run is releasing: once it closes, the same id starts the next run.
          await Promise.race([pause(options.retryPauseMs ?? 1_000), timedOut]);
          continue;
        }
        if (err instanceof WorkflowUpdateFailedError) {
          const type = cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
          throw new PreJobRefusedError(`${cause?.message ?? err.message}`, type);
        }
        throw err;
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Tells the job's open run that Veeam is done; false when no run of the job is open (nothing to do). */
export async function postJob(client: Client, job: string, notice: PostJobNotice = {}): Promise<boolean> {
  const handle = client.workflow.getHandle(workflowIdFor(job));
  try {
    await handle.signal(POST_JOB_SIGNAL, notice);
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
