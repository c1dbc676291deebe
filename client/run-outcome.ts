/**
 * Following a run to its end: its live status (the `status` query), and how it ended, read from
 * its result or its failure, so that a failed, cancelled or terminated run is an answer, not a throw.
 */
import {
  ApplicationFailure,
  CancelledFailure,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { RunStatus } from '../workflows/status';

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
