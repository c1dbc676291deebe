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

export const BackupJob = z
  .object({
    id: z.string().min(1),
    name: z.string(),
    /** VMs added to the job (containers are not expanded by Get-VBRJobObject). */
    vms: z.array(VmName),
    isRunning: z.boolean(),
  })
  .strict();
export type BackupJob = z.infer<typeof BackupJob>;
