/**
 * Runs the Veeam job once and follows its session to the end. On cancellation it stops the job
 * (or lets it finish, per input) and waits until the session is really over before returning, so
 * the restore that follows never changes a VM while Veeam still reads its disks.
 *
 * The start itself is inside that promise: once Start-VBRJob may have been sent, a failed start
 * is not "nothing happened". `startJobOnce` re-attaches to a session newer than the fence when one
 * shows; when it fails anyway, whatever started after the fence (visible or not yet) is stopped,
 * and the run waits until Veeam confirms the job idle before anything is restored.
 */
import { ApplicationFailure, CancellationScope, isCancellation, patched, sleep } from '@temporalio/workflow';
import type { BackupSession } from '../domain/veeam';
import type { StepProxies } from './activity-proxies';
import { FailureType, messageOf } from './failures';
import { type ProtectedBackupInput } from './input';
import { durationMs } from '../domain/duration';
import type { RunTracker } from './tracker';
import type { SessionWatcher } from './early-release';
import { followSession, recordSession } from './session-follower';

/**
 * Runs recorded before it failed a run at once when `startJobOnce` failed (and restored while a
 * session the start had created could still read the disks); with it, a failed start first stops
 * whatever started after the fence. Asked only on that path, so other histories are unchanged.
 */
export const START_FENCING_PATCH = 'start-fencing';

/** How long one watch activity polls before it reports progress back to the workflow. */
function reportIntervalMs(pollMs: number): number {
  return Math.min(30_000, Math.max(pollMs * 10, 1_000));
}

/**
 * How long a job must stay idle, with no session after the fence, before an uncertain start
 * counts as "nothing started": long enough for Veeam to show a session it accepted late.
 */
function startSettleMs(pollMs: number): number {
  return Math.min(60_000, Math.max(pollMs * 10, 2_000));
}

export async function runBackupJob(
  tracker: RunTracker,
  steps: Pick<StepProxies, 'veeam' | 'veeamWait'>,
  job: string,
  veeam: ProtectedBackupInput['veeam'],
  /**
   * Sees the session at every poll while it runs (early release). With it, each watch also returns
   * as soon as one more task has ended, so a VM is let go soon after Veeam is done with it.
   */
  watcher?: SessionWatcher,
): Promise<BackupSession> {
  const pollIntervalMs = durationMs(veeam.pollInterval);
  const settleMs = startSettleMs(pollIntervalMs);
  const backup = tracker.status.backup;
  const record = (session: BackupSession): BackupSession => recordSession(tracker, session);

  tracker.phase('backing-up');
  // The fence is taken after the flush was verified: any session newer than it reads flushed disks.
  const fence = await steps.veeamWait.prepareJobStart({
    job,
    whenAlreadyRunning: veeam.whenAlreadyRunning,
    pollIntervalMs,
  });

  let session: BackupSession | null = null;
  try {
    // Not cancellable: once Start-VBRJob may have been sent, the run must learn the session id,
    // or a cancel could leave a job running that nobody stops.
    const started = await CancellationScope.nonCancellable(() =>
      steps.veeam.startJobOnce({
        job,
        fence,
        fullBackup: veeam.fullBackup,
        retryBackup: veeam.retryBackup,
        pollIntervalMs,
        settleMs,
      }),
    );
    session = record(started.session);
    if (started.reattached) tracker.warn(`attached to session ${session.id} of ${job}, started after this run's fence`);

    const sessionId = session.id;
    return await followSession(tracker, steps, session, {
      pollIntervalMs,
      reportAfterMs: reportIntervalMs(pollIntervalMs),
      watcher,
      deadline: {
        at: Date.now() + durationMs(veeam.maxDuration),
        error: () =>
          ApplicationFailure.nonRetryable(
            `Veeam job ${JSON.stringify(job)} ran longer than ${String(veeam.maxDuration)} (session ${sessionId})`,
            FailureType.jobTooLong,
          ),
      },
    });
  } catch (err) {
    if (session === null) {
      if (!patched(START_FENCING_PATCH)) throw err;
      // The start failed, but it may have started the job (its answer lost, its session not
      // visible yet): stop whatever started after the fence before anything is restored.
      tracker.warn(`the start of ${job} failed (${messageOf(err)}); making sure nothing it may have started runs`);
      await untilConfirmed(tracker, pollIntervalMs, 'no session of ' + job + ' runs after the fence', async () => {
        const stopped = await steps.veeam.stopJob({ job, fence, pollIntervalMs, settleMs });
        if (stopped !== null) record(stopped);
      });
      throw err;
    }
    const stopIt = !isCancellation(err) || veeam.onCancel === 'stop';
    const sessionId = session.id;
    // The restore must not run while Veeam may still read the disks: keep trying until the
    // session is known to be over, however long Veeam stays unreachable (the VMs stay safe,
    // in write-through, meanwhile; the status shows why).
    await untilConfirmed(tracker, pollIntervalMs, `session ${sessionId} has stopped`, async () => {
      if (stopIt) {
        const stopped = await steps.veeam.stopJob({ job, sessionId, pollIntervalMs });
        if (stopped !== null) record(stopped);
      } else {
        while (backup.state !== 'Stopped') {
          record(
            await steps.veeamWait.watchSession({
              sessionId,
              pollIntervalMs,
              reportAfterMs: reportIntervalMs(pollIntervalMs),
            }),
          );
        }
      }
    });
    throw err;
  }
}

/**
 * Runs `attempt` until it succeeds, shielded from cancellation, backing off while Veeam is
 * unreachable: it never gives up, because what follows is a restore.
 */
async function untilConfirmed(
  tracker: RunTracker,
  pollIntervalMs: number,
  what: string,
  attempt: () => Promise<void>,
): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    let pauseMs = pollIntervalMs;
    for (;;) {
      try {
        await attempt();
        return;
      } catch (err) {
        tracker.warn(`cannot confirm that ${what} yet: ${messageOf(err)}`);
        await sleep(pauseMs);
        pauseMs = Math.min(pauseMs * 2, 60_000);
      }
    }
  });
}
