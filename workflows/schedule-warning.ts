/**
 * Issue 10 item 7: a job that Veeam's own scheduler may start (IsScheduleEnabled) can start on its
 * own while its VMs are in write-back, and its scheduled runs retry as new sessions. A run the worker
 * starts on such a job says so in its status (warnings, hence the report and the run-warning event)
 * and in the worker log. Advisory: the fenced start and whenAlreadyRunning keep the run safe. Not
 * for the Veeam-started mode (issue 14), where Veeam's schedule is the point.
 */
import { log, patched } from '@temporalio/workflow';
import type { BackupJob } from '../domain/veeam';
import type { RunTracker } from './tracker';

export const SCHEDULE_WARNING_PATCH = 'veeam-schedule-warning';

export function scheduleWarning(job: string): string {
  return (
    `Veeam job ${JSON.stringify(job)} is also scheduled in Veeam (IsScheduleEnabled): Veeam may start it on its own ` +
    'while its VMs are in write-back; disable its schedule (Disable-VBRJobSchedule) or use the Veeam-started mode (hook pre-job)'
  );
}

export function warnIfScheduled(tracker: RunTracker, job: BackupJob, veeamStarted: boolean): void {
  if (veeamStarted) return;
  if (job.schedule === 'unknown') {
    // Logged only (log calls record nothing in the history): an unreadable schedule is not a problem of the run.
    log.info('Veeam job schedule state unknown: the job object has no IsScheduleEnabled', { job: job.name });
    return;
  }
  // Old histories recorded no schedule; a run recorded since asks for the patch only on this path.
  if (job.schedule !== 'enabled' || !patched(SCHEDULE_WARNING_PATCH)) return;
  const message = scheduleWarning(job.name);
  log.warn(message, { job: job.name });
  tracker.warn(message);
}
