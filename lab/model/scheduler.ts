/**
 * Veeam's own scheduler starting a job (issue 14): a session as Veeam creates it when its schedule
 * fires, or when it retries a session that did not succeed ("<job> (Retry N)"). Unlike
 * Start-BackupJob, nobody asked through PowerShell: the lab's scheduler (lab/scheduler.ts) calls
 * this once the job's pre-job script succeeded. Pure apart from the state it appends to.
 */
import { z } from 'zod';
import { JobOutcome } from '../scenario';
import { LIMITS, pushBounded, SessionRecord, type LabState } from './state';
import { isLive, sessionDoc } from './veeam';

export const ScheduledSessionBody = z
  .object({
    /** 0 for the scheduled session, N for "(Retry N)". */
    retry: z.number().int().min(0).max(100).default(0),
    /** The result this session ends with (default: the job's outcome). */
    outcome: JobOutcome.optional(),
  })
  .strict();
export type ScheduledSessionBody = z.input<typeof ScheduledSessionBody>;

/** Veeam's name of a session: the job's, with " (Retry N)" for a retry. */
export function scheduledSessionName(job: string, retry: number): string {
  return retry === 0 ? job : `${job} (Retry ${retry})`;
}

/**
 * Appends a session of `jobName` created at `now`, or throws (the message says why) when the job
 * is unknown or already has a live session: Veeam runs one session of a job at a time.
 */
export function startScheduledSession(
  state: LabState,
  jobName: string,
  body: z.output<typeof ScheduledSessionBody>,
  now: number,
  id: string,
): SessionRecord {
  const job = state.veeam.jobs.find((j) => j.name === jobName);
  if (job === undefined) throw new Error(`unknown Veeam job ${JSON.stringify(jobName)}`);
  const live = state.veeam.sessions.find((s) => s.jobId === job.id && isLive(s, now));
  if (live !== undefined) throw new Error(`job ${JSON.stringify(jobName)} already has a live session (${live.id})`);
  // The job's timing goes to the session; what describes the job itself (its objects, its schedule) does not.
  const { id: jobId, name, outcome, objects: _objects, scheduleEnabled: _schedule, ...timing } = structuredClone(job);
  // "During the job retry, Veeam Backup & Replication processes only those VMs that have failed"
  // (Veeam's job_retry page): a retry's tasks are the VMs whose task in the job's last session did
  // not end Success or Warning.
  if (body.retry > 0) {
    const last = state.veeam.sessions.filter((s) => s.jobId === job.id).at(-1);
    const read = new Set(
      last
        ? sessionDoc(last, now)
            .tasks.filter((t) => t.result === 'Success' || t.result === 'Warning')
            .map((t) => t.vm)
        : [],
    );
    timing.vms = timing.vms.filter((vm) => !read.has(vm));
  }
  const scenarioJob = state.scenario.veeam.jobs.find((j) => j.name === jobName);
  const session = SessionRecord.parse({
    ...timing,
    id,
    jobId,
    jobName: name,
    createdAt: now,
    outcome: body.outcome ?? outcome,
    fullBackup: false,
    // A retry processes the failed VMs again: Veeam's own retry, as Start-VBRJob -RetryBackup asks.
    retryBackup: body.retry > 0,
    stopRequestedAt: null,
    appearDelayMs: scenarioJob?.sessionAppearDelayMs ?? 0,
    judged: 0,
  });
  pushBounded(state.veeam.sessions, session, LIMITS.sessions);
  return session;
}
