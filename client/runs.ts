/**
 * The typed client library for protected backups: start, execute, read the status of, cancel,
 * follow and list runs. Every input is validated with the workflow's own `ProtectedBackupInput`
 * schema before it leaves the process: a bad input throws `InvalidInputError` naming the field, and
 * nothing is started.
 *
 *   const { client, taskQueue } = await connect();
 *   const run = await startProtectedBackup(client, { job: 'Nightly-SQL' }, { taskQueue });
 *   const outcome = await waitForOutcome(run.handle);        // never throws for a failed run
 */
import { randomUUID } from 'node:crypto';
import {
  ApplicationFailure,
  CancelledFailure,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionStatusName,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import type { ProtectedBackupRequest } from '../workflows/input';
import type { protectedBackup } from '../workflows/protected-backup';
import { RunStatus } from '../workflows/status';
import { ProtectedBackupRunError, RunAlreadyActiveError, RunNotFoundError } from './errors';
import { jobOf, WORKFLOW_TYPE, workflowIdFor } from './ids';
import { runSummary, startDetails } from './metadata';
import { validateRequest } from './request';
import {
  JOB_ATTRIBUTE,
  PHASE_ATTRIBUTE,
  RESTORE_PENDING_ATTRIBUTE,
  startSearchAttributes,
  visibilityString,
  VMS_ATTRIBUTE,
} from './search-attributes';

export { validateRequest };

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

export type OutcomeKind = 'success' | 'warning' | 'failed' | 'cancelled' | 'terminated' | 'timed-out';

export interface RunOutcome {
  kind: OutcomeKind;
  workflowId: string;
  runId: string;
  /** The report (a failed run carries it in its failure details); null when none could be read. */
  report: RunStatus | null;
  /** Why the run did not succeed (the workflow's failure message), or null. */
  message: string | null;
  /** The failure type (`FlushTimeout`, `BackupJobFailed`, `InvalidInput`, ...) of a failed run. */
  failureType: string | null;
}

function completedKind(report: RunStatus): OutcomeKind {
  return report.backup.result === 'Warning' || report.warnings.length > 0 ? 'warning' : 'success';
}

function asReport(value: unknown): RunStatus | null {
  const parsed = RunStatus.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/** Waits for the run to close and says how it ended. Throws only when Temporal cannot be reached. */
export async function waitForOutcome(handle: WorkflowHandle, queryTimeoutMs = 5_000): Promise<RunOutcome> {
  const base = { workflowId: handle.workflowId };
  try {
    const result = await handle.result();
    const report = asReport(result);
    const { runId } = await handle.describe();
    return {
      ...base,
      runId,
      kind: report ? completedKind(report) : 'success',
      report,
      message: null,
      failureType: null,
    };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const { runId } = await handle.describe();
    const cause = err.cause;
    if (cause instanceof CancelledFailure) {
      // The cancelled run's report is not in the failure: ask the run itself (needs a worker).
      const report = await queryStatus(handle, queryTimeoutMs).catch(() => null);
      return { ...base, runId, kind: 'cancelled', report, message: 'cancelled', failureType: null };
    }
    if (cause instanceof TerminatedFailure) {
      return {
        ...base,
        runId,
        kind: 'terminated',
        report: null,
        message: `terminated${cause.message ? `: ${cause.message}` : ''} (no cleanup ran: the reconciler restores policies)`,
        failureType: null,
      };
    }
    if (cause instanceof TimeoutFailure) {
      return { ...base, runId, kind: 'timed-out', report: null, message: 'timed out', failureType: null };
    }
    const failure = cause instanceof ApplicationFailure ? cause : undefined;
    return {
      ...base,
      runId,
      kind: 'failed',
      report: asReport(failure?.details?.[0]),
      message: cause?.message ?? err.message,
      failureType: failure?.type ?? null,
    };
  }
}

/** The `status` query of a run, bounded in time (a run whose worker is down cannot answer). */
export async function queryStatus(handle: WorkflowHandle, timeoutMs = 5_000): Promise<RunStatus> {
  const client = handle.client;
  const value = await client.connection.withDeadline(Date.now() + timeoutMs, () => handle.query<RunStatus>('status'));
  const report = asReport(value);
  if (!report) throw new Error(`run ${handle.workflowId} answered the status query with an unexpected shape`);
  return report;
}

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

/** Polls the `status` query until the run closes; `onStatus` sees every status read. */
export async function followRun(
  handle: WorkflowHandle,
  onStatus: (status: RunStatus) => void,
  intervalMs = 500,
): Promise<RunOutcome> {
  let closed = false;
  const outcome = waitForOutcome(handle).finally(() => {
    closed = true;
  });
  while (!closed) {
    try {
      onStatus(await queryStatus(handle, Math.max(2_000, intervalMs * 4)));
    } catch {
      // Not answerable yet (no worker picked the run up) or just closed: keep waiting.
    }
    await Promise.race([outcome, new Promise((r) => setTimeout(r, intervalMs))]);
  }
  const result = await outcome;
  if (result.report) onStatus(result.report);
  return result;
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
