/**
 * Schedules one at a time (CLI `schedule create | list | delete | pause | unpause | trigger`).
 * Only schedules whose action starts protectedBackup are touched; anything else is refused.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ScheduleNotFoundError, type Client, type ScheduleDescription } from '@temporalio/client';
import { z } from 'zod';
import { WORKFLOW_TYPE } from '../ids';
import { InvalidScheduleError, ScheduleFileError, ScheduleNotOursError } from '../errors';
import {
  parseScheduleFile,
  ScheduleEntry,
  toDefinition,
  type ScheduleDefinition,
  type ScheduleEntryInput,
  type ScheduleSet,
} from './file';
import { toScheduleOptions } from './options';
import { describeOwnership } from './ownership';

export function readScheduleFile(path: string): ScheduleSet {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ScheduleFileError(basename(path), [
      { line: null, path: '', message: `cannot read: ${(err as Error).message}` },
    ]);
  }
  return parseScheduleFile(text, basename(path));
}

/** Checks one schedule given on the command line; throws InvalidScheduleError naming the field. */
export function parseScheduleEntry(entry: ScheduleEntryInput): ScheduleDefinition {
  const parsed = ScheduleEntry.safeParse(entry);
  if (!parsed.success) {
    throw new InvalidScheduleError(
      parsed.error.issues.map((i) => ({ line: null, path: z.core.toDotPath(i.path), message: i.message })),
    );
  }
  return toDefinition(parsed.data);
}

/** Creates one schedule outside any file (`schedule create`); sync never touches it. */
export async function createSchedule(client: Client, definition: ScheduleDefinition, taskQueue: string): Promise<void> {
  await client.schedule.create(toScheduleOptions(definition, taskQueue, { source: 'cli', owner: null }));
}

async function ours(client: Client, id: string): Promise<ScheduleDescription> {
  let description: ScheduleDescription;
  try {
    description = await client.schedule.getHandle(id).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError)
      throw new ScheduleNotOursError(`no schedule with id ${JSON.stringify(id)}`);
    throw err;
  }
  if (description.action.workflowType !== WORKFLOW_TYPE) {
    throw new ScheduleNotOursError(
      `schedule ${JSON.stringify(id)} starts ${description.action.workflowType}, not ${WORKFLOW_TYPE}: left alone`,
    );
  }
  return description;
}

export interface ScheduleRow {
  id: string;
  job: string | null;
  managedBy: string;
  paused: boolean;
  note: string | null;
  spec: string;
  nextActionTimes: string[];
  recentActions: { scheduledAt: string; workflowId: string }[];
}

function specText(description: Pick<ScheduleDescription, 'spec' | 'action'>): string {
  const stored = description.action.memo?.definition;
  if (typeof stored === 'string') {
    try {
      const d = JSON.parse(stored) as { spec: { cron?: string[]; calendar?: unknown[] }; timezone: string };
      return d.spec.cron
        ? `cron ${d.spec.cron.join(' | ')} (${d.timezone})`
        : `calendar ${JSON.stringify(d.spec.calendar)} (${d.timezone})`;
    } catch {
      // fall through to the server's view
    }
  }
  const spec = description.spec;
  return `${spec.calendars?.length ?? 0} calendar(s), ${spec.intervals?.length ?? 0} interval(s) (${spec.timezone ?? 'UTC'})`;
}

/** Every schedule that starts protectedBackup, whoever manages it. */
export async function listSchedules(client: Client): Promise<ScheduleRow[]> {
  const rows: ScheduleRow[] = [];
  for await (const summary of client.schedule.list({ pageSize: 200 })) {
    if (summary.action?.workflowType !== WORKFLOW_TYPE) continue;
    let description: ScheduleDescription;
    try {
      description = await client.schedule.getHandle(summary.scheduleId).describe();
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) continue; // deleted since the list was taken
      throw err;
    }
    const job = description.action.memo?.job;
    rows.push({
      id: summary.scheduleId,
      job: typeof job === 'string' ? job : null,
      managedBy: describeOwnership(description.memo),
      paused: description.state.paused,
      note: description.state.note ?? null,
      spec: specText(description),
      nextActionTimes: description.info.nextActionTimes.slice(0, 3).map((d) => d.toISOString()),
      recentActions: description.info.recentActions.slice(-3).map((a) => ({
        scheduledAt: a.scheduledAt.toISOString(),
        workflowId: a.action.workflow.workflowId,
      })),
    });
  }
  return rows.sort((a, b) => a.id.localeCompare(b.id));
}

export async function deleteSchedule(client: Client, id: string): Promise<ScheduleDescription> {
  const description = await ours(client, id);
  await client.schedule.getHandle(id).delete();
  return description;
}

export async function pauseSchedule(client: Client, id: string, note?: string): Promise<ScheduleDescription> {
  const description = await ours(client, id);
  await client.schedule.getHandle(id).pause(note ?? 'paused with the CLI');
  return description;
}

export async function unpauseSchedule(client: Client, id: string, note?: string): Promise<ScheduleDescription> {
  const description = await ours(client, id);
  await client.schedule.getHandle(id).unpause(note ?? 'unpaused with the CLI');
  return description;
}

/** Takes the schedule's action now, under its own overlap policy (SKIP: nothing if a run is open). */
export async function triggerSchedule(client: Client, id: string): Promise<ScheduleDescription> {
  const description = await ours(client, id);
  await client.schedule.getHandle(id).trigger();
  return description;
}
