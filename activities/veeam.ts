/**
 * Veeam activities. The job must start exactly once per run, whatever crashes, so starting is
 * fenced: the workflow first records the job's newest session (the fence), and `startJobOnce`
 * treats any session newer than the fence as the one this run started, instead of starting again.
 * A retried attempt of `startJobOnce` therefore re-attaches, even when the previous attempt's
 * Start-VBRJob took effect and its answer was lost with the process.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { OperationInvoker } from './invoker';
import type { BackupJob, BackupSession } from '../domain/veeam';
import { classified, isAlreadyRunning } from './failures';
import { pause, whileHeartbeating } from './heartbeat';

export interface VeeamDependencies {
  veeam: OperationInvoker;
}

/** A session that is over: Veeam sets State=Stopped and an end time. */
export function sessionEnded(session: BackupSession): boolean {
  return session.state === 'Stopped';
}

export interface SessionFence {
  /** The newest session of the job before this run started it, or null when the job never ran. */
  previous: { id: string; creationTime: string } | null;
}

const EPOCH = '1970-01-01T00:00:00.0000000Z';

export function createVeeamActivities({ veeam }: VeeamDependencies) {
  async function newestSession(job: string): Promise<BackupSession | null> {
    return (await whileHeartbeating(veeam.invoke('Find-BackupSession', { job, since: EPOCH }))).session;
  }

  return {
    async describeJob({ job }: { job: string }): Promise<BackupJob> {
      return classified(() => whileHeartbeating(veeam.invoke('Get-BackupJob', { job })));
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
      return classified(async () => {
        for (;;) {
          const newest = await newestSession(job);
          if (!newest || sessionEnded(newest)) {
            return { previous: newest && { id: newest.id, creationTime: newest.creationTime } };
          }
          if (whenAlreadyRunning === 'fail') {
            throw ApplicationFailure.nonRetryable(
              `Veeam job ${JSON.stringify(job)} is already running (session ${newest.id}, ${newest.state}); whenAlreadyRunning is 'fail'`,
              'JobAlreadyRunning',
            );
          }
          await pause(pollIntervalMs);
        }
      });
    },

    /** Starts the job unless a session newer than the fence exists already; returns this run's session. */
    async startJobOnce({
      job,
      fence,
      fullBackup,
      retryBackup,
    }: {
      job: string;
      fence: SessionFence;
      fullBackup: boolean;
      retryBackup: boolean;
    }): Promise<{ session: BackupSession; reattached: boolean }> {
      return classified(async () => {
        const isOurs = (s: BackupSession | null): s is BackupSession => s !== null && s.id !== fence.previous?.id;
        const existing = await newestSession(job);
        if (isOurs(existing)) return { session: existing, reattached: true };
        try {
          const session = await whileHeartbeating(veeam.invoke('Start-BackupJob', { job, fullBackup, retryBackup }));
          return { session, reattached: false };
        } catch (err) {
          // Someone (or a lost earlier attempt) started it after the fence: that session reads flushed disks too.
          if (isAlreadyRunning(err)) {
            const started = await newestSession(job);
            if (isOurs(started)) return { session: started, reattached: true };
          }
          throw err;
        }
      });
    },

    /**
     * Polls the session until it ends or `reportAfterMs` passes, heartbeating, and returns what it
     * saw, so the workflow can show progress without a history event per poll.
     */
    async watchSession({
      sessionId,
      pollIntervalMs,
      reportAfterMs,
    }: {
      sessionId: string;
      pollIntervalMs: number;
      reportAfterMs: number;
    }): Promise<BackupSession> {
      return classified(async () => {
        const until = Date.now() + reportAfterMs;
        for (;;) {
          const session = await whileHeartbeating(veeam.invoke('Get-BackupSession', { sessionId }), { sessionId });
          if (sessionEnded(session) || Date.now() >= until) return session;
          await pause(pollIntervalMs);
        }
      });
    },

    /** Asks Veeam to stop the job and waits until its session has really stopped. */
    async stopJob({
      job,
      sessionId,
      pollIntervalMs,
    }: {
      job: string;
      sessionId: string;
      pollIntervalMs: number;
    }): Promise<BackupSession> {
      return classified(async () => {
        let session = await whileHeartbeating(veeam.invoke('Get-BackupSession', { sessionId }));
        if (!sessionEnded(session) && session.state !== 'Stopping') {
          await whileHeartbeating(veeam.invoke('Stop-BackupJob', { job }));
        }
        while (!sessionEnded(session)) {
          await pause(pollIntervalMs);
          session = await whileHeartbeating(veeam.invoke('Get-BackupSession', { sessionId }));
        }
        return session;
      });
    },
  };
}

export type VeeamActivities = ReturnType<typeof createVeeamActivities>;
