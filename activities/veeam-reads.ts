/**
 * The Veeam reads every Veeam activity makes: one module call each, its raw answer read by
 * activities/vendor/interpret-veeam.ts. Shared by activities/veeam.ts and the Veeam-started run's
 * activities, so that both read sessions the same way (by the per-job lookup of this server's
 * version, never the whole history).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { OperationInvoker } from './invoker';
import type { BackupJob, BackupSession } from '../domain/veeam';
import { whileHeartbeating } from './heartbeat';
import type { InventoryView, RawValue, SessionLookup } from './powershell/operations';
import { VEEAM } from './vendor/facts';
import { interpretVeeamMajor, sessionLookupFor } from './vendor/interpret';
import {
  interpretJob,
  interpretJobHeader,
  interpretSession,
  jobInventoryViews,
  newestSession,
} from './vendor/interpret-veeam';

/** The per-job session lookup for this server's Veeam version (facts table). */
export async function sessionLookup(veeam: OperationInvoker): Promise<SessionLookup> {
  const raw = await whileHeartbeating(veeam.invoke('Get-VeeamServer', { module: VEEAM.moduleName.value }));
  return sessionLookupFor(interpretVeeamMajor(raw.modules));
}

/** The job's newest session (without its tasks: read them with readSession), or null when it has none. */
export async function newestJobSession(
  veeam: OperationInvoker,
  job: string,
  lookup: SessionLookup,
): Promise<BackupSession | null> {
  return newestSession((await whileHeartbeating(veeam.invoke('Find-BackupSession', { job, lookup }))).sessions, job);
}

/** One session with its tasks; SessionNotFound (non-retryable) when Veeam has none with this id. */
export async function readSession(veeam: OperationInvoker, sessionId: string, jobName = ''): Promise<BackupSession> {
  const raw = await whileHeartbeating(veeam.invoke('Get-BackupSession', { sessionId }), { sessionId });
  const first = raw.matches[0];
  if (first === undefined) {
    throw ApplicationFailure.nonRetryable(
      `Veeam session ${JSON.stringify(sessionId)} was not found`,
      'SessionNotFound',
    );
  }
  return interpretSession(first, jobName);
}

/**
 * The job, the VMs Veeam will process (its containers expanded with the inventory views they need,
 * read only when it has containers; exclusions applied: activities/vendor/containers.ts), and
 * whether it runs.
 */
export async function readJob(
  veeam: OperationInvoker,
  job: string,
  lookup: () => Promise<SessionLookup>,
): Promise<BackupJob> {
  const raw = await whileHeartbeating(veeam.invoke('Get-BackupJob', { job }));
  const inventory: Partial<Record<InventoryView, RawValue[]>> = {};
  for (const view of jobInventoryViews(raw)) {
    inventory[view] = (await whileHeartbeating(veeam.invoke('Get-ViEntities', { view }))).entities;
  }
  const read = interpretJob(raw, inventory);
  return { ...read, isRunning: read.isRunning ?? (await newestRunning(veeam, job, lookup)) };
}

/** Whether the job runs: its IsRunning, or where the job object has none, whether its newest session is not over. */
export async function readJobRunning(
  veeam: OperationInvoker,
  job: string,
  lookup: () => Promise<SessionLookup>,
): Promise<boolean> {
  const read = interpretJobHeader(await whileHeartbeating(veeam.invoke('Get-BackupJob', { job })));
  return read.isRunning ?? (await newestRunning(veeam, job, lookup));
}

async function newestRunning(
  veeam: OperationInvoker,
  job: string,
  lookup: () => Promise<SessionLookup>,
): Promise<boolean> {
  const newest = await newestJobSession(veeam, job, await lookup());
  return newest !== null && newest.state !== 'Stopped';
}
