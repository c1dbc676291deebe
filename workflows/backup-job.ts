/**
 * Runs the Veeam job once and follows its session to the end. On cancellation it stops the job
 * (or lets it finish, per input) and waits until the session is really over before returning, so
 * the restore that follows never changes a VM while Veeam still reads its disks.
 */
import { ApplicationFailure, CancellationScope, isCancellation, sleep } from '@temporalio/workflow';
import type { BackupSession } from '../domain/veeam';
import type { ActivityProxies } from './activity-proxies';
import { FailureType, messageOf } from './failures';
import { type ProtectedBackupInput } from './input';
import { durationMs } from '../domain/duration';
import type { RunTracker } from './tracker';

/** How long one watch activity polls before it reports progress back to the workflow. */
function reportIntervalMs(pollMs: number): number {
  return Math.min(30_000, Math.max(pollMs * 10, 1_000));
}

export async function runBackupJob(
  tracker: RunTracker,
  acts: ActivityProxies,
  job: string,
  veeam: ProtectedBackupInput['veeam'],
): Promise<BackupSession> {
  const pollIntervalMs = durationMs(veeam.pollInterval);
  const backup = tracker.status.backup;
  const record = (session: BackupSession): BackupSession => {
    backup.sessionId = session.id;
    backup.state = session.state;
    backup.result = session.result;
    backup.progress = session.progress;
    backup.tasks = session.tasks.map(({ vm, status, result }) => ({ vm, status, result }));
    return session;
  };

  tracker.phase('backing-up');
  // The fence is taken after the flush was verified: any session newer than it reads flushed disks.
  const fence = await acts.longWait.prepareJobStart({
    job,
    whenAlreadyRunning: veeam.whenAlreadyRunning,
    pollIntervalMs,
  });
  // Not cancellable: once Start-VBRJob may have been sent, the run must learn the session id,
  // or a cancel could leave a job running that nobody stops.
  const started = await CancellationScope.nonCancellable(() =>
    acts.forward.startJobOnce({ job, fence, fullBackup: veeam.fullBackup, retryBackup: veeam.retryBackup }),
  );
  let session = record(started.session);
  if (started.reattached) tracker.warn(`attached to session ${session.id} of ${job}, started after this run's fence`);

  const deadline = Date.now() + durationMs(veeam.maxDuration);
  try {
    while (session.state !== 'Stopped') {
      if (Date.now() > deadline) {
        throw ApplicationFailure.nonRetryable(
          `Veeam job ${JSON.stringify(job)} ran longer than ${String(veeam.maxDuration)} (session ${session.id})`,
          FailureType.jobTooLong,
        );
      }
      session = record(
        await acts.longWait.watchSession({
          sessionId: session.id,
          pollIntervalMs,
          reportAfterMs: reportIntervalMs(pollIntervalMs),
        }),
      );
    }
    return session;
  } catch (err) {
    const stopIt = !isCancellation(err) || veeam.onCancel === 'stop';
    const sessionId = session.id;
    // The restore must not run while Veeam may still read the disks: keep trying until the
    // session is known to be over, however long Veeam stays unreachable (the VMs stay safe,
    // in write-through, meanwhile; the status shows why).
    await CancellationScope.nonCancellable(async () => {
      let pauseMs = pollIntervalMs;
      for (;;) {
        try {
          if (stopIt) {
            record(await acts.forward.stopJob({ job, sessionId, pollIntervalMs }));
          } else {
            while (backup.state !== 'Stopped') {
              record(
                await acts.longWait.watchSession({
                  sessionId,
                  pollIntervalMs,
                  reportAfterMs: reportIntervalMs(pollIntervalMs),
                }),
              );
            }
          }
          return;
        } catch (stopErr) {
          tracker.warn(`cannot confirm that session ${sessionId} has stopped yet: ${messageOf(stopErr)}`);
          await sleep(pauseMs);
          pauseMs = Math.min(pauseMs * 2, 60_000);
        }
      }
    });
    throw err;
  }
}
