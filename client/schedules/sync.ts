/**
 * `schedule sync`: makes the Temporal schedules a file owns match the file. It plans first (what
 * to create, update, delete, and what is unchanged, field by field), refuses before any change if
 * the file declares an id that exists but is not its own, then applies the plan unless dry-run.
 * A second sync of the same file finds nothing to change.
 */
import { ScheduleNotFoundError, type Client, type ScheduleDescription } from '@temporalio/client';
import type { ScheduleDefinition, ScheduleSet } from './file';
import { ScheduleNotOursError } from '../errors';
import { canonical, storedDefinition, toScheduleOptions, toUpdateOptions, type StoredDefinition } from './options';
import { describeOwnership, ownedByFile } from './ownership';

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

export interface ScheduleChange {
  action: 'create' | 'update' | 'delete' | 'unchanged';
  id: string;
  job: string | null;
  fields: FieldChange[];
}

export interface SyncResult {
  owner: string;
  taskQueue: string;
  dryRun: boolean;
  changes: ScheduleChange[];
}

async function describeOrNull(client: Client, id: string): Promise<ScheduleDescription | null> {
  try {
    return await client.schedule.getHandle(id).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return null;
    throw err;
  }
}

function previousDefinition(description: ScheduleDescription): StoredDefinition | null {
  const text = description.action.memo?.definition;
  if (typeof text !== 'string') return null;
  try {
    return JSON.parse(text) as StoredDefinition;
  } catch {
    return null;
  }
}

/** What differs between what Temporal has and what the file declares. */
export function fieldChanges(
  description: ScheduleDescription,
  definition: ScheduleDefinition,
  taskQueue: string,
): FieldChange[] {
  const wanted = storedDefinition(definition, taskQueue);
  const before = previousDefinition(description);
  const changes: FieldChange[] = [];
  if (!before) {
    changes.push({ field: 'definition', from: '(unknown: changed outside the file)', to: '(as declared)' });
  } else {
    const keys = new Set([...Object.keys(before), ...Object.keys(wanted)]) as Set<keyof StoredDefinition>;
    for (const key of keys) {
      if (canonical(before[key]) !== canonical(wanted[key]))
        changes.push({ field: key, from: before[key], to: wanted[key] });
    }
  }
  if (!changes.length) {
    // Same declaration; was the schedule edited by hand since (Web UI, another tool)?
    const live = description.action;
    if (canonical(live.args) !== canonical([definition.request])) {
      changes.push({ field: 'input (changed outside the file)', from: live.args?.[0], to: definition.request });
    }
    if (live.taskQueue !== taskQueue)
      changes.push({ field: 'taskQueue (changed outside the file)', from: live.taskQueue, to: taskQueue });
    if (description.policies.overlap !== definition.overlap) {
      changes.push({
        field: 'overlap (changed outside the file)',
        from: description.policies.overlap,
        to: definition.overlap,
      });
    }
  }
  if (description.state.paused !== definition.paused) {
    changes.push({ field: 'paused', from: description.state.paused, to: definition.paused });
  }
  return changes;
}

export async function planSync(client: Client, set: ScheduleSet, taskQueue: string): Promise<ScheduleChange[]> {
  const declared = new Set(set.schedules.map((s) => s.id));
  const changes: ScheduleChange[] = [];
  const foreign: string[] = [];
  for (const definition of set.schedules) {
    const description = await describeOrNull(client, definition.id);
    if (!description) {
      changes.push({ action: 'create', id: definition.id, job: definition.job, fields: [] });
    } else if (!ownedByFile(description.memo, set.owner)) {
      foreign.push(`${definition.id} (${describeOwnership(description.memo)})`);
    } else {
      const fields = fieldChanges(description, definition, taskQueue);
      changes.push({ action: fields.length ? 'update' : 'unchanged', id: definition.id, job: definition.job, fields });
    }
  }
  if (foreign.length) {
    throw new ScheduleNotOursError(
      `the file declares schedules that exist and are not owned by ${JSON.stringify(set.owner)}: ${foreign.join(', ')}; ` +
        'nothing was changed (rename them in the file, or delete those schedules by hand)',
    );
  }
  for await (const summary of client.schedule.list({ pageSize: 200 })) {
    if (declared.has(summary.scheduleId) || !ownedByFile(summary.memo, set.owner)) continue;
    // The list lags behind: confirm with a describe (a schedule just deleted is gone there).
    const description = await describeOrNull(client, summary.scheduleId);
    if (!description || !ownedByFile(description.memo, set.owner)) continue;
    const job = description.action.memo?.job;
    changes.push({ action: 'delete', id: summary.scheduleId, job: typeof job === 'string' ? job : null, fields: [] });
  }
  return changes;
}

export async function syncSchedules(
  client: Client,
  set: ScheduleSet,
  options: { taskQueue: string; dryRun?: boolean },
): Promise<SyncResult> {
  const taskQueue = set.taskQueue ?? options.taskQueue;
  const changes = await planSync(client, set, taskQueue);
  const result: SyncResult = { owner: set.owner, taskQueue, dryRun: Boolean(options.dryRun), changes };
  if (options.dryRun) return result;
  const ownership = { source: 'file' as const, owner: set.owner };
  for (const change of changes) {
    const definition = set.schedules.find((s) => s.id === change.id);
    const handle = client.schedule.getHandle(change.id);
    if (change.action === 'create' && definition) {
      await client.schedule.create(toScheduleOptions(definition, taskQueue, ownership));
    } else if (change.action === 'update' && definition) {
      await handle.update(() => toUpdateOptions(definition, taskQueue, ownership));
      const { state } = await handle.describe();
      if (state.paused !== definition.paused) await (definition.paused ? handle.pause() : handle.unpause());
    } else if (change.action === 'delete') {
      await handle.delete();
    }
  }
  return result;
}

function show(value: unknown): string {
  return value === undefined ? '(none)' : JSON.stringify(value);
}

/** The difference as text: `+ create`, `~ update` with each field, `- delete`, `= unchanged`. */
export function formatSync(result: SyncResult): string[] {
  const sign = { create: '+', update: '~', delete: '-', unchanged: '=' } as const;
  const lines: string[] = [];
  for (const c of result.changes) {
    lines.push(`${sign[c.action]} ${c.action.padEnd(9)} ${c.id}${c.job ? ` (job ${c.job})` : ''}`);
    for (const f of c.fields) lines.push(`    ${f.field}: ${show(f.from)} -> ${show(f.to)}`);
  }
  const count = (a: ScheduleChange['action']) => result.changes.filter((c) => c.action === a).length;
  const [created, updated, deleted, unchanged] = [
    count('create'),
    count('update'),
    count('delete'),
    count('unchanged'),
  ];
  lines.push(
    result.dryRun
      ? `dry run, nothing changed: would create ${created}, update ${updated}, delete ${deleted}; ${unchanged} unchanged`
      : `created ${created}, updated ${updated}, deleted ${deleted}; ${unchanged} unchanged`,
  );
  return lines;
}
