/**
 * Schedules one at a time (CLI `schedule create | list | delete | pause | unpause | trigger`).
 * Only schedules whose action starts protectedBackup are touched; anything else is refused.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import {
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
} from '@temporalio/client';
import { z } from 'zod';
import { WORKFLOW_TYPE } from '../ids';
import { InvalidScheduleError, ScheduleFileError, ScheduleNotOursError, TriggerDroppedError } from '../errors';
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

export interface TriggerResult {
  description: ScheduleDescription;
  /** The run the trigger started; null while it waits behind an open run (see `waitingFor`). */
  workflowId: string | null;
  /** BUFFER_ONE: the open runs the trigger waits for. */
  waitingFor: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Takes the schedule's action now under the schedule's own overlap policy, and finds out what the
 * server did with it. The SDK's trigger() defaults to ALLOW_ALL, which would start a second backup
 * of the job beside an open one: the policy is passed explicitly. The server decides after the
 * call returns, so this watches the schedule's counters: a run started (its id is returned); or
 * the policy dropped it, or nothing started at all (TriggerDroppedError); or, after `waitMs` with
 * a run open, it waits in BUFFER_ONE's buffer.
 */
export async function triggerSchedule(client: Client, id: string, { waitMs = 5_000 } = {}): Promise<TriggerResult> {
  const description = await ours(client, id);
  const overlap = description.policies.overlap ?? ScheduleOverlapPolicy.SKIP; // the server's default
  const handle = client.schedule.getHandle(id);
  await handle.trigger(overlap);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const { info } = await handle.describe();
    const open = info.runningActions.map((a) => a.workflow.workflowId);
    if (info.numActionsSkippedOverlap > description.info.numActionsSkippedOverlap) {
      throw TriggerDroppedError.byOverlap(id, overlap, open);
    }
    if (info.numActionsTaken > description.info.numActionsTaken) {
      const latest = info.recentActions.at(-1)?.action.workflow.workflowId ?? null;
      return { description, workflowId: latest, waitingFor: [] };
    }
    if (Date.now() >= deadline) {
      if (open.length) return { description, workflowId: null, waitingFor: open };
      throw TriggerDroppedError.nothingStarted(id, waitMs);
    }
    await sleep(200);
  }
}
