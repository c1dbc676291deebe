/**
 * `schedule sync`: makes the Temporal schedules a file owns match the file. It plans first (what
 * to create, update, delete, and what is unchanged, field by field), refuses before any change if
 * the file declares an id that exists but is not its own, then applies the plan unless dry-run.
 * A second sync of the same file finds nothing to change.
 */
import { isGrpcServiceError, ScheduleNotFoundError, type Client, type ScheduleDescription } from '@temporalio/client';
import type { ScheduleDefinition, ScheduleSet } from './file';
import { ScheduleNotOursError, SyncInterruptedError } from '../errors';
import { dstWarnings, type DstWarning } from './dst';
import {
  canonical,
  scheduledRunSummary,
  storedDefinition,
  toScheduleOptions,
  toUpdateOptions,
  type StoredDefinition,
} from './options';
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
  /** Declared times that do not exist on a spring-forward day of their zone (see dst.ts). */
  warnings: DstWarning[];
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
    if (live.staticSummary !== scheduledRunSummary(definition)) {
      // A schedule from a version that set no summary gets one at the next sync.
      changes.push({
        field: 'summary (set by this version)',
        from: live.staticSummary ?? null,
        to: scheduledRunSummary(definition),
      });
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
  const warnings = dstWarnings(set.schedules);
  const changes = await planSync(client, set, taskQueue);
  const result: SyncResult = { owner: set.owner, taskQueue, dryRun: Boolean(options.dryRun), changes, warnings };
  if (options.dryRun) return result;
  const pending = changes.filter((c) => c.action !== 'unchanged');
  for (const [index, change] of pending.entries()) {
    try {
      await applyChange(client, set, taskQueue, change);
    } catch (err) {
      throw interrupted(err, pending.slice(0, index), pending.slice(index));
    }
  }
  return result;
}

async function applyChange(client: Client, set: ScheduleSet, taskQueue: string, change: ScheduleChange) {
  const ownership = { source: 'file' as const, owner: set.owner };
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

/** gRPC status codes meaning the server stopped answering (UNAVAILABLE, DEADLINE_EXCEEDED). */
const GONE = new Set([14, 4]);

/** The SDK wraps the gRPC error (ServiceError, cause): look down the cause chain. */
function serverWentAway(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (isGrpcServiceError(e) && GONE.has(e.code)) return true;
  }
  return false;
}

/**
 * A sync that stopped part-way says what it did and what it did not, and how to finish: every
 * step is idempotent and the next sync plans again from what the server has, so running the same
 * sync again completes it.
 */
function interrupted(err: unknown, applied: ScheduleChange[], notApplied: ScheduleChange[]): SyncInterruptedError {
  const label = (c: ScheduleChange) => `${c.action} ${c.id}`;
  const cause = err instanceof Error ? err.message : String(err);
  const what = serverWentAway(err)
    ? `the Temporal server went away during the sync (${cause})`
    : `the sync stopped at ${label(notApplied[0] as ScheduleChange)}: ${cause}`;
  const total = applied.length + notApplied.length;
  return new SyncInterruptedError(
    `${what}; applied ${applied.length} of ${total} changes (${applied.map(label).join(', ') || 'none'}), ` +
      `not applied: ${notApplied.map(label).join(', ')}. Run the same \`schedule sync\` again ` +
      `${serverWentAway(err) ? 'once the server is back' : 'after fixing that'}: it plans again from what the server has and finishes the job`,
    applied.map(label),
    notApplied.map(label),
    err,
  );
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
