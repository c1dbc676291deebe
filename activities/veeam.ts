/**
 * Veeam activities. The job must start exactly once per run, whatever crashes, so starting is
 * fenced: the workflow first records the job's newest session (the fence), `startJobOnce` treats
 * any session newer than the fence as the one this run started instead of starting again, and the
 * module itself refuses to start once the newest session is no longer the fence. A retried attempt
 * of `startJobOnce` therefore re-attaches, even when the previous attempt's Start-VBRJob took effect
 * and its answer was lost with the process. Once a start may have been sent and no session shows,
 * nothing here starts again: it waits for the session (re-attach) or for proof that the job stayed
 * idle, and otherwise leaves the decision to the workflow (non-retryable), which stops whatever
 * runs before it restores anything.
 */
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { OperationInvoker } from './invoker';
import { isAfterFence, StartFailureType, type BackupJob, type BackupSession, type SessionFence } from '../domain/veeam';
import { classified, startMayHaveHappened } from './failures';
import { pause, whileHeartbeating } from './heartbeat';
import { PowerShellError } from './powershell/errors';
import type { SessionLookup } from './powershell/operations';
import { sessionAfterStart, type StartFacts } from './vendor/interpret-veeam';
import { newestJobSession, readJob, readJobRunning, readSession, sessionLookup } from './veeam-reads';

export interface VeeamDependencies {
  veeam: OperationInvoker;
  /** How long a start looks for the session it created (SESSION_APPEAR_MS unless a test shortens it). */
  sessionAppearMs?: number;
}

/** A session that is over: Veeam sets State=Stopped and an end time. */
export function sessionEnded(session: BackupSession): boolean {
  return session.state === 'Stopped';
}

export type { SessionFence };

/**
 * How long, and how often, startJobOnce looks for the session its start created: Start-VBRJob
 * -RunAsync returns before Veeam lists the session (a busy VBR server registers it seconds late).
 * Past this, the start is reported start-unknown and the job may run (what the module once did).
 */
export const SESSION_APPEAR_MS = 30_000;
const SESSION_APPEAR_POLL_MS = 500;

/** Defaults for callers that do not say how to wait after an uncertain start. */
const DEFAULT_POLL_MS = 1_000;
const DEFAULT_SETTLE_MS = 30_000;
/** How long a stop request may go unanswered before it is sent again. */
const STOP_RESEND_MS = 30_000;

/**
 * This attempt's end by the local clock, less a margin to answer in: a polling loop must return a
 * verdict before Temporal times the attempt out (and retries it). Measured from `startedAt`, when
 * this worker began the attempt, so that a clock skew with the server does not matter.
 */
function attemptDeadline(startedAt: number): number {
  const budget = Context.current().info.startToCloseTimeoutMs;
  if (!budget) return Infinity;
  return startedAt + budget - Math.max(2_000, budget / 10);
}

/** The module never answered (timeout, dead process, garbage): nobody can say how far the call got. */
function noAnswer(err: unknown): boolean {
  return err instanceof PowerShellError && ['timeout', 'process-died', 'protocol'].includes(err.category);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A start that was sent but whose session could not be confirmed, as the module itself reported it
 * before the wait moved here: a PowerShellError of category start-unknown, so that startJobOnce,
 * failures.ts and the workflow treat it exactly as before (the job may be running).
 */
function startUnknown(message: string, errorType: 'JobStartUnknown' | 'SessionNotFound', cause?: unknown) {
  return new PowerShellError(message, {
    op: 'Start-BackupJob',
    endpoint: 'veeam',
    category: 'start-unknown',
    errorType,
    cause,
  });
}

export function createVeeamActivities({ veeam, sessionAppearMs = SESSION_APPEAR_MS }: VeeamDependencies) {
  /**
   * The per-job session lookup for this server's Veeam version (facts table): never the whole
   * history. Read once per activity attempt, so an upgraded server is seen at once.
   */
  type Lookup = () => Promise<SessionLookup>;
  function perAttempt(): Lookup {
    let chosen: Promise<SessionLookup> | null = null;
    return () => (chosen ??= sessionLookup(veeam));
  }

  /** The job's newest session, without its tasks (a lookup lists sessions only). */
  async function newestSession(job: string, lookup: Lookup): Promise<BackupSession | null> {
    return newestJobSession(veeam, job, await lookup());
  }

  async function jobIsRunning(job: string, lookup: Lookup): Promise<boolean> {
    // The job's own flag only: its VMs (and their containers) are read once, by describeJob.
    return readJobRunning(veeam, job, lookup);
  }

  /** A session found by a lookup, read again by its id with its tasks (what the workflow watches). */
  async function withTasks(session: BackupSession): Promise<BackupSession> {
    return readSession(veeam, session.id, session.jobName);
  }

  /**
   * After Start-BackupJob answered: the session its start created (the newest one the lookup lists
   * that was not listed before the start: interpret-veeam.ts sessionAfterStart), with its tasks,
   * looked for every SESSION_APPEAR_POLL_MS for `sessionAppearMs` (never past this attempt's time).
   * A read that may work when tried again (a transient fault, a dead or hung host) is tried again at
   * the next poll: each read is its own PowerShell call now, and one fault must not cost the run.
   * Fails start-unknown (the job may run): JobStartUnknown when reading fails for good or still
   * failed at the end, SessionNotFound when none showed. A cancellation goes through as it is.
   */
  async function sessionOfStart(
    job: string,
    start: StartFacts,
    lookup: SessionLookup,
    startedAt: number,
  ): Promise<BackupSession> {
    const until = Math.min(Date.now() + sessionAppearMs, attemptDeadline(startedAt));
    const unreadable = (err: unknown) =>
      startUnknown(
        `Veeam job ${JSON.stringify(job)} was started, then its session could not be read: ${messageOf(err)}`,
        'JobStartUnknown',
        err,
      );
    let failed: unknown = null;
    for (;;) {
      try {
        const { sessions } = await whileHeartbeating(veeam.invoke('Find-BackupSession', { job, lookup }));
        const found = sessionAfterStart(sessions, start, job);
        if (found !== null) return await withTasks(found);
        failed = null;
      } catch (err) {
        if (Context.current().cancellationSignal.aborted) throw err;
        if (!(err instanceof PowerShellError && err.retryable)) throw unreadable(err);
        failed = err;
      }
      if (Date.now() + SESSION_APPEAR_POLL_MS > until) break;
      await pause(SESSION_APPEAR_POLL_MS);
    }
    if (failed !== null) throw unreadable(failed);
    throw startUnknown(
      `Veeam job ${JSON.stringify(job)} was started but its session did not appear within ${sessionAppearMs / 1000} s`,
      'SessionNotFound',
    );
  }

  /**
   * After a start that may have happened: the session newer than the fence once it shows, or null
   * once the job has stayed idle without one for `settleMs`. Any error here, or running out of
   * this attempt's time, is non-retryable JobStartUnknown: a retry would call Start-BackupJob.
   */
  async function awaitSessionAfterFence(
    job: string,
    fence: SessionFence,
    pollIntervalMs: number,
    settleMs: number,
    cause: unknown,
    startedAt: number,
    lookup: Lookup,
  ): Promise<BackupSession | null> {
    const deadline = attemptDeadline(startedAt);
    let idleSince: number | null = null;
    try {
      for (;;) {
        const newest = await newestSession(job, lookup);
        if (isAfterFence(newest, fence)) return await withTasks(newest);
        const now = Date.now();
        if (await jobIsRunning(job, lookup)) idleSince = null;
        else if (idleSince === null) idleSince = now;
        else if (now - idleSince >= settleMs) return null;
        if (Date.now() + pollIntervalMs > deadline)
          throw new Error('no session after the fence before the step timeout');
        await pause(pollIntervalMs);
      }
    } catch (err) {
      if (Context.current().cancellationSignal.aborted) throw err;
      throw ApplicationFailure.nonRetryable(
        `Veeam job ${JSON.stringify(job)} may have been started (${messageOf(cause)}), and no session after ` +
          `the fence could be confirmed: ${messageOf(err)}`,
        StartFailureType.startUnknown,
      );
    }
  }

  /**
   * Stops whatever started after the fence and waits until it is over; see stopJob. Returns the
   * session newer than the fence as last seen, or null when none ever showed.
   */
  async function stopAfterFence(
    job: string,
    fence: SessionFence,
    pollIntervalMs: number,
    settleMs: number,
    startedAt: number,
    lookup: Lookup,
  ): Promise<BackupSession | null> {
    const deadline = attemptDeadline(startedAt);
    let seen: BackupSession | null = null;
    let idleSince: number | null = null;
    let stopSentAt: number | null = null;
    for (;;) {
      const newest = await newestSession(job, lookup);
      if (isAfterFence(newest, fence)) seen = newest;
      const running = await jobIsRunning(job, lookup);
      const live = running || (seen !== null && !sessionEnded(seen));
      const now = Date.now();
      if (live) {
        idleSince = null;
        // Stop-VBRJob acts on the job: it also stops a session that lookups do not show yet. Sent
        // again now and then, in case Veeam dropped the request while the session was starting.
        const stopping = seen !== null && seen.state === 'Stopping';
        if (!stopping && (stopSentAt === null || now - stopSentAt >= STOP_RESEND_MS)) {
          await whileHeartbeating(veeam.invoke('Stop-BackupJob', { job }));
          stopSentAt = now;
        }
      } else if (seen !== null) {
        return withTasks(seen);
      } else if (idleSince === null) {
        idleSince = now;
      } else if (now - idleSince >= settleMs) {
        return null;
      }
      if (Date.now() + pollIntervalMs > deadline) {
        // Retryable: stopping again is harmless, and the workflow's loop never gives up anyway.
        throw ApplicationFailure.retryable(
          `Veeam job ${JSON.stringify(job)}: not confirmed idle before the step timeout`,
          'JobNotConfirmedStopped',
        );
      }
      await pause(pollIntervalMs);
    }
  }

  return {
    async describeJob({ job }: { job: string }): Promise<BackupJob> {
      const lookup = perAttempt();
      return classified(() => readJob(veeam, job, lookup));
    },

    /**
     * Waits until the job has no live session (or fails, per `whenAlreadyRunning`), then returns
     * the fence for `startJobOnce`.
     */
    async prepareJobStart({
      job,
      whenAlreadyRunning,
      pollIntervalMs,
    }: {
      job: string;
      whenAlreadyRunning: 'wait' | 'fail';
      pollIntervalMs: number;
    }): Promise<SessionFence> {
      const lookup = perAttempt();
      return classified(async () => {
        for (;;) {
          const newest = await newestSession(job, lookup);
          if (!newest || sessionEnded(newest)) {
            return { previous: newest && { id: newest.id, creationTime: newest.creationTime } };
          }
          if (whenAlreadyRunning === 'fail') {
            // Benign: an answer, not a fault (a guard reads an abandoned job this way until it is
            // over), so the worker does not log it as a failed activity.
            throw ApplicationFailure.create({
              message: `Veeam job ${JSON.stringify(job)} is already running (session ${newest.id}, ${newest.state}); whenAlreadyRunning is 'fail'`,
              type: 'JobAlreadyRunning',
              nonRetryable: true,
              category: ApplicationFailureCategory.BENIGN,
            });
          }
          await pause(pollIntervalMs);
        }
      });
    },

    /**
     * Starts the job unless a session newer than the fence exists already; returns this run's
     * session. When the start may have happened (refused because a session or a running job
     * exists, or failed after Start-VBRJob may have been sent), it does not start again: it waits
     * until a session newer than the fence shows up and re-attaches to it, or until the job has
     * stayed idle with none for `settleMs` (JobNotStarted: nothing runs, restoring is safe).
     * JobNotStarted is retryable only when the module never answered: a fenced start again is then
     * as safe as the first. After the module said it sent the start (start-unknown), and when no
     * verdict came in time (JobStartUnknown), nothing is retried: the workflow stops what runs.
     */
    async startJobOnce({
      job,
      fence,
      fullBackup,
      retryBackup,
      pollIntervalMs = DEFAULT_POLL_MS,
      settleMs = DEFAULT_SETTLE_MS,
    }: {
      job: string;
      fence: SessionFence;
      fullBackup: boolean;
      retryBackup: boolean;
      /** How often to look for the session after an uncertain start. */
      pollIntervalMs?: number;
      /** How long the job must stay idle, with no session after the fence, for "nothing started". */
      settleMs?: number;
    }): Promise<{ session: BackupSession; reattached: boolean }> {
      const startedAt = Date.now();
      const lookup = perAttempt();
      return classified(async () => {
        const existing = await newestSession(job, lookup);
        if (isAfterFence(existing, fence)) return { session: await withTasks(existing), reattached: true };
        const how = await lookup();
        try {
          const start = await whileHeartbeating(
            veeam.invoke('Start-BackupJob', {
              job,
              fullBackup,
              retryBackup,
              fence: fence.previous?.id ?? null,
              lookup: how,
            }),
          );
          return { session: await sessionOfStart(job, start, how, startedAt), reattached: false };
        } catch (err) {
          if (!startMayHaveHappened(err)) throw err;
          // Someone (this call, a lost earlier attempt, an operator) started it after the fence:
          // that session reads flushed disks too. Find it; never start again.
          const found = await awaitSessionAfterFence(job, fence, pollIntervalMs, settleMs, err, startedAt, lookup);
          if (found !== null) return { session: found, reattached: true };
          if (err instanceof PowerShellError && err.category === 'fence-moved') throw err;
          throw ApplicationFailure.create({
            message:
              `Veeam job ${JSON.stringify(job)} stayed idle with no session after the fence for ${settleMs} ms ` +
              `after an uncertain start; nothing was started (${messageOf(err)})`,
            type: StartFailureType.notStarted,
            // The process died or answered garbage before anyone could tell whether Start-VBRJob went
            // out; the job stayed idle: a fenced start again is as safe as the first. When the module
            // said the start was sent (start-unknown, already-running), never start again.
            nonRetryable: !noAnswer(err),
          });
        }
      });
    },

    /**
     * Polls the session until it ends or `reportAfterMs` passes, heartbeating, and returns what it
     * saw, so the workflow can show progress without a history event per poll. With
     * `tasksEndedBefore` (how many of its tasks the caller saw ended), it also returns as soon as
     * more have ended: the workflow lets a VM go once its task is done.
     */
    async watchSession({
      sessionId,
      pollIntervalMs,
      reportAfterMs,
      tasksEndedBefore,
    }: {
      sessionId: string;
      pollIntervalMs: number;
      reportAfterMs: number;
      tasksEndedBefore?: number;
    }): Promise<BackupSession> {
      return classified(async () => {
        const until = Date.now() + reportAfterMs;
        const taskEnded = (session: BackupSession) =>
          tasksEndedBefore !== undefined && session.tasks.filter((t) => t.result !== 'None').length > tasksEndedBefore;
        for (;;) {
          const session = await readSession(veeam, sessionId);
          if (sessionEnded(session) || taskEnded(session) || Date.now() >= until) return session;
          await pause(pollIntervalMs);
        }
      });
    },

    /**
     * Asks Veeam to stop the job and waits until its session has really stopped. Without a
     * `sessionId` (a start whose outcome is unknown), the session is whatever started after
     * `fence`: stops the job while it runs or such a session is live, and returns once the job is
     * idle and that session (if any) is over; when none was ever seen, only after the job stayed
     * idle for `settleMs`, so that a start Veeam registers late is not missed. Returns the session
     * it stopped, or null when none showed (nothing started, or it ended before it became visible).
     */
    async stopJob({
      job,
      sessionId,
      fence,
      pollIntervalMs,
      settleMs = DEFAULT_SETTLE_MS,
    }: {
      job: string;
      sessionId?: string;
      fence?: SessionFence;
      pollIntervalMs: number;
      settleMs?: number;
    }): Promise<BackupSession | null> {
      const startedAt = Date.now();
      return classified(async () => {
        if (sessionId === undefined) {
          if (fence === undefined) {
            throw ApplicationFailure.nonRetryable('stopJob needs a sessionId or a fence', 'InvalidArgument');
          }
          return stopAfterFence(job, fence, pollIntervalMs, settleMs, startedAt, perAttempt());
        }
        let session = await readSession(veeam, sessionId, job);
        if (!sessionEnded(session) && session.state !== 'Stopping') {
          await whileHeartbeating(veeam.invoke('Stop-BackupJob', { job }));
        }
        while (!sessionEnded(session)) {
          await pause(pollIntervalMs);
          session = await readSession(veeam, sessionId, job);
        }
        return session;
      });
    },
  };
}

export type VeeamActivities = ReturnType<typeof createVeeamActivities>;
