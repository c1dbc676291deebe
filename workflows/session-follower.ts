/**
 * THE loop that follows a Veeam session to its end, for both kinds of run: the runs the worker
 * starts (backup-job.ts) and the runs Veeam's scheduler starts (veeam-started.ts). Each caller
 * keeps its own activity arguments (how long one watch polls) and its own answer to a failed read,
 * so that the commands of recorded histories stay exactly what they were:
 *
 * - a run that started the job fails on a read error or past its deadline: its caller stops the
 *   job and waits for the session's end before anything is restored;
 * - a Veeam-started run cannot stop the job, so it never gives up: it backs off and reads again,
 *   and reads the session at least once by id (a per-job lookup may carry it without its tasks).
 *
 * A watcher (early release) sees the session before each poll, and each poll then also returns as
 * soon as one more task has ended, so a VM is let go soon after Veeam is done with it.
 */
import { sleep } from '@temporalio/workflow';
import type { BackupSession } from '../domain/veeam';
import type { StepProxies } from './activity-proxies';
import { endedTasks, type SessionWatcher } from './early-release';
import { messageOf } from './failures';
import type { RunTracker } from './tracker';

export interface FollowOptions {
  pollIntervalMs: number;
  /** How long one watch activity polls before it reports back to the workflow. */
  reportAfterMs: number;
  watcher?: SessionWatcher;
  /** Past `at` (workflow clock), the follow throws `error()` instead of polling again. */
  deadline?: { at: number; error: () => unknown };
  /**
   * Never give up: read at least once by id, and on a failed read warn, back off (up to a minute)
   * and read again. Without it, a failed read throws to the caller.
   */
  untilStopped?: boolean;
}

/** The session as the run's status shows it (state, result, progress, each task). */
export function recordSession(tracker: RunTracker, session: BackupSession): BackupSession {
  const backup = tracker.status.backup;
  backup.sessionId = session.id;
  backup.state = session.state;
  backup.result = session.result;
  backup.progress = session.progress;
  backup.tasks = session.tasks.map(({ vm, status, result }) => ({ vm, status, result }));
  tracker.publish();
  return session;
}

/**
 * Follows `start` (already recorded by the caller) until Veeam shows it Stopped; returns it as last
 * read. Records every state it reads.
 */
export async function followSession(
  tracker: RunTracker,
  steps: Pick<StepProxies, 'veeamWait'>,
  start: BackupSession,
  options: FollowOptions,
): Promise<BackupSession> {
  const { pollIntervalMs, reportAfterMs, watcher, deadline, untilStopped = false } = options;
  let session = start;
  let read = !untilStopped;
  let pauseMs = pollIntervalMs;
  while (!read || session.state !== 'Stopped') {
    if (deadline && Date.now() > deadline.at) throw deadline.error();
    if (watcher) await watcher.seen(session);
    try {
      session = recordSession(
        tracker,
        await steps.veeamWait.watchSession({
          sessionId: session.id,
          pollIntervalMs,
          reportAfterMs,
          ...(watcher ? { tasksEndedBefore: endedTasks(session) } : {}),
        }),
      );
      read = true;
      pauseMs = pollIntervalMs;
    } catch (err) {
      if (!untilStopped) throw err;
      tracker.warn(`cannot confirm that session ${session.id} has stopped yet: ${messageOf(err)}`);
      await sleep(pauseMs);
      pauseMs = Math.min(pauseMs * 2, 60_000);
    }
  }
  return session;
}
