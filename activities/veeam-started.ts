/**
 * The Veeam activities of a Veeam-started run (issue 14), which never starts or stops the job:
 * the fence before the switch (without waiting for a live session: that may be the very session
 * whose pre-job script is waiting for this run), and waiting for the session Veeam starts. Each
 * reads the job's newest session by the per-job lookup of this server's Veeam version, as
 * activities/veeam.ts does (never the whole session history).
 */
import type { OperationInvoker } from './invoker';
import { isAfterFence, type BackupSession, type SessionFence } from '../domain/veeam';
import { classified } from './failures';
import { pause } from './heartbeat';
import { sessionEnded } from './veeam';
import { newestJobSession, sessionLookup } from './veeam-reads';

export interface VeeamStartedDependencies {
  veeam: OperationInvoker;
}

export function createVeeamStartedActivities({ veeam }: VeeamStartedDependencies) {
  async function newestSession(job: string): Promise<BackupSession | null> {
    return newestJobSession(veeam, job, await sessionLookup(veeam));
  }

  return {
    /**
     * The job's newest session as the fence. A live one is returned as `running` (and is the
     * fence too): Veeam runs one session of a job at a time, so if it shows while the pre-job hook
     * runs, it is the session waiting for that hook (on servers that create the session first).
     */
    async takeVeeamStartedFence({
      job,
    }: {
      job: string;
    }): Promise<{ fence: SessionFence; running: BackupSession | null }> {
      return classified(async () => {
        const newest = await newestSession(job);
        const fence: SessionFence = { previous: newest && { id: newest.id, creationTime: newest.creationTime } };
        return { fence, running: newest !== null && !sessionEnded(newest) ? newest : null };
      });
    },

    /**
     * Polls for a session of the job newer than the fence, for at most `returnAfterMs`; returns it,
     * or null (the workflow decides how long to keep waiting, and hears the post-job hook between).
     */
    async awaitVeeamSession({
      job,
      fence,
      pollIntervalMs,
      returnAfterMs,
    }: {
      job: string;
      fence: SessionFence;
      pollIntervalMs: number;
      returnAfterMs: number;
    }): Promise<BackupSession | null> {
      return classified(async () => {
        const until = Date.now() + returnAfterMs;
        for (;;) {
          const newest = await newestSession(job);
          if (isAfterFence(newest, fence)) return newest;
          if (Date.now() + pollIntervalMs > until) return null;
          await pause(pollIntervalMs);
        }
      });
    },
  };
}

export type VeeamStartedActivities = ReturnType<typeof createVeeamStartedActivities>;
