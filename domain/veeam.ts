/**
 * What a Veeam job and its sessions are, as the product reads them. Pure and workflow-safe.
 */
import { z } from 'zod';
import { VmName } from './policy';

export const SessionState = z.enum([
  'Stopped',
  'Starting',
  'Stopping',
  'Working',
  'Pausing',
  'Resuming',
  'WaitingTape',
  'Idle',
  'Postprocessing',
  'WaitingRepository',
  'WaitingSlot',
  'Pending',
  'ActionRequired',
]);
export type SessionState = z.infer<typeof SessionState>;

export const SessionResult = z.enum(['None', 'Success', 'Warning', 'Failed']);
export type SessionResult = z.infer<typeof SessionResult>;

export const TaskSession = z
  .object({
    vm: VmName,
    status: z.string(),
    result: SessionResult,
    progress: z.number().min(0).max(100),
  })
  .strict();

export const BackupSession = z
  .object({
    id: z.string().min(1),
    jobId: z.string().min(1),
    jobName: z.string(),
    state: SessionState,
    result: SessionResult,
    progress: z.number().min(0).max(100),
    /** ISO 8601, formatted by the module with .ToString('o'). */
    creationTime: z.string(),
    endTime: z.string().nullable(),
    tasks: z.array(TaskSession),
  })
  .strict();
export type BackupSession = z.infer<typeof BackupSession>;

/** Whether Veeam's own scheduler may start the job (IsScheduleEnabled); unknown when the job object lacks it. */
export const JobSchedule = z.enum(['enabled', 'disabled', 'unknown']);
export type JobSchedule = z.infer<typeof JobSchedule>;

export const BackupJob = z
  .object({
    id: z.string().min(1),
    name: z.string(),
    /** VMs added to the job (containers are not expanded by Get-VBRJobObject). */
    vms: z.array(VmName),
    isRunning: z.boolean(),
    /** Absent in results recorded before issue 10 item 7 (old histories). */
    schedule: JobSchedule.optional(),
  })
  .strict();
export type BackupJob = z.infer<typeof BackupJob>;

/**
 * The fence a run takes before it starts its job: the job's newest session at that moment (null
 * when the job never ran). Any session newer than it was started after the flush was verified.
 */
export interface SessionFence {
  previous: { id: string; creationTime: string } | null;
}

/** Whether `session` was created after the fence (a session of this run, or of someone who acted since). */
export function isAfterFence(session: BackupSession | null, fence: SessionFence): session is BackupSession {
  if (session === null) return false;
  const previous = fence.previous;
  if (previous === null) return true;
  return session.id !== previous.id && Date.parse(session.creationTime) >= Date.parse(previous.creationTime);
}

/**
 * ApplicationFailure types of a start that did not (or may not) go as asked: "someone else acted",
 * or "the outcome is unknown", as opposed to a failure. None is retried by Temporal: the workflow
 * reads again and decides (re-attach, or stop what runs), and never starts again.
 */
export const StartFailureType = {
  /** Start-BackupJob refused: a session newer than the fence exists (and could not be re-attached). */
  fenceMoved: 'FenceMoved',
  /** Start-VBRJob may have been sent and the session did not show up: the job may be running. */
  startUnknown: 'JobStartUnknown',
  /** After an uncertain start, the job stayed idle with no session after the fence: nothing started. */
  notStarted: 'JobNotStarted',
} as const;
