/**
 * Every decision about what Veeam's raw output means (issue 11): the module returns sessions, task
 * sessions and jobs as their raw properties (operations.ts RawSession, Get-BackupJob), and this file
 * turns them into the domain shapes of domain/veeam.ts with the vendor-facts table (facts.ts VEEAM):
 * the session state and result, progress as a number or an object's Percents, the 1900 EndTime
 * placeholder of a running session, task results, the job's VMs (containers.ts) and whether it runs, the newest of
 * a job's sessions and the one a start created, the job's schedule state. A session state or result outside the documented enums, or a missing id or time,
 * fails closed (VendorMismatch); progress, which decides nothing, reads as 0 when it cannot be read.
 * Pure: tested on every vendor profile without a server.
 */
import {
  SessionResult,
  SessionState,
  type BackupJob,
  type BackupSession,
  type JobSchedule,
  type SessionResult as Result,
} from '../../domain/veeam';
import { z } from 'zod';
import type { InventoryView, RawObject, RawSession, RawValue } from '../powershell/operations';
import {
  classifyJobObjects,
  expandJob,
  parseJobObjects,
  parseViEntities,
  viewsNeeded,
  type ViEntity,
} from './containers';
import { VEEAM } from './facts';
import { property, vendorMismatch } from './interpret';

function isObject(value: RawValue | undefined): value is RawObject {
  return typeof value === 'object' && value !== null;
}

function describe(value: unknown): string {
  return JSON.stringify(value ?? null).slice(0, 200);
}

function text(object: RawObject, name: string, what: string): string {
  const found = property(object, name);
  if (!found.present || typeof found.value !== 'string' || found.value === '') {
    throw vendorMismatch(null, 'sessionProperties', `${what} has ${name} ${describe(found.value)}, not a text`);
  }
  return found.value;
}

/** A percentage: the object's Percents where the module projected it, else the number; clamped to 0..100. */
export function percent(object: RawObject): number {
  const nested = property(object, VEEAM.progressPercentsProperty.value);
  const plain = property(object, 'Progress');
  const value = nested.present && nested.value !== null ? nested.value : plain.value;
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  // Progress is shown, never decided on: an unreadable one is 0, not a failure.
  return Number.isFinite(n) ? Math.min(100, Math.max(0, n)) : 0;
}

/** An ISO time of a raw object, or null for Veeam's placeholder of "no time" (a year before 1971). */
function time(object: RawObject, name: string, what: string): string | null {
  const found = property(object, name);
  const ms = typeof found.value === 'string' ? Date.parse(found.value) : NaN;
  if (!found.present || !Number.isFinite(ms)) {
    throw vendorMismatch(null, 'noTimeBeforeYear', `${what} has ${name} ${describe(found.value)}, not a time`);
  }
  return new Date(ms).getUTCFullYear() < VEEAM.noTimeBeforeYear.value ? null : (found.value as string);
}

function enumOf<T extends string>(
  schema: { safeParse(v: unknown): { success: boolean; data?: T } },
  value: RawValue,
  what: string,
): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw vendorMismatch(null, 'sessionProperties', `${what} is ${describe(value)}, not one Veeam documents`);
  return parsed.data as T;
}

/** A session object without its tasks (what a per-job lookup returns). */
export function interpretSessionObject(session: RawValue, jobName: string): BackupSession {
  if (!isObject(session)) throw vendorMismatch(null, 'sessionProperties', `a Veeam session is ${describe(session)}`);
  const what = 'a Veeam session';
  const state = enumOf<SessionState>(SessionState, property(session, 'State').value, `${what}'s State`);
  const creationTime = time(session, 'CreationTime', what);
  if (creationTime === null) throw vendorMismatch(null, 'noTimeBeforeYear', `${what} has no CreationTime`);
  const named = property(session, 'JobName').value;
  return {
    id: text(session, 'Id', what),
    jobId: text(session, 'JobId', what),
    jobName: typeof named === 'string' && named !== '' ? named : jobName,
    state,
    result: enumOf<Result>(SessionResult, property(session, 'Result').value, `${what}'s Result`),
    progress: percent(session),
    creationTime,
    // A running session's EndTime is a placeholder; only a stopped one has an end.
    endTime: state === 'Stopped' && property(session, 'EndTime').value !== null ? time(session, 'EndTime', what) : null,
    tasks: [],
  };
}

/** A session with its task sessions. */
export function interpretSession(raw: RawSession, jobName: string): BackupSession {
  const session = interpretSessionObject(raw.session, jobName);
  const tasks = raw.tasks.map((task) => {
    if (!isObject(task)) throw vendorMismatch(null, 'taskResultByStatus', `a Veeam task session is ${describe(task)}`);
    const status = text(task, 'Status', 'a Veeam task session');
    const result: Result = VEEAM.taskResultByStatus.value[status] ?? 'None';
    return { vm: text(task, 'Name', 'a Veeam task session'), status, result, progress: percent(task) };
  });
  return { ...session, tasks };
}

/** The newest of a job's sessions (by CreationTime; the later one on a tie), or null when it has none. */
export function newestSession(sessions: RawValue[], jobName: string): BackupSession | null {
  let newest: BackupSession | null = null;
  for (const raw of sessions) {
    const session = interpretSessionObject(raw, jobName);
    if (newest === null || Date.parse(session.creationTime) >= Date.parse(newest.creationTime)) newest = session;
  }
  return newest;
}

/**
 * Start-BackupJob's raw answer: the ids of the job's sessions the lookup listed right before
 * Start-VBRJob (the module chooses nothing). Parsed again here, not only at the boundary, because
 * the choice below is only as sound as this list: a missing or malformed one must fail closed.
 */
export const StartFacts = z.object({ before: z.array(z.string()) }).strict();
export type StartFacts = z.infer<typeof StartFacts>;

/**
 * The session a start created: the newest (by CreationTime) of the job's sessions, as a per-job
 * lookup lists them now, whose id was not listed before the start; null while none is listed yet
 * (a busy VBR server registers a session late). Ids compare as Veeam's GUID text, case-insensitively.
 */
export function sessionAfterStart(sessions: RawValue[], start: StartFacts, jobName: string): BackupSession | null {
  const parsed = StartFacts.safeParse(start);
  if (!parsed.success) {
    throw vendorMismatch(
      null,
      'sessionProperties',
      `Start-BackupJob answered ${describe(start)}, not its sessions before`,
    );
  }
  const before = new Set(parsed.data.before.map((id) => id.toLowerCase()));
  let newest: BackupSession | null = null;
  for (const raw of sessions) {
    const session = interpretSessionObject(raw, jobName);
    if (before.has(session.id.toLowerCase())) continue;
    if (newest === null || Date.parse(session.creationTime) >= Date.parse(newest.creationTime)) newest = session;
  }
  return newest;
}

/** The job itself from Get-BackupJob's raw answer (its objects unread); isRunning null when the job object has no IsRunning. */
export function interpretJobHeader(raw: { job: RawObject }): Omit<BackupJob, 'isRunning' | 'vms'> & {
  isRunning: boolean | null;
} {
  const running = property(raw.job, VEEAM.jobIsRunningProperty.value);
  if (running.present && typeof running.value !== 'boolean') {
    throw vendorMismatch(null, 'jobIsRunningProperty', `the job's IsRunning is ${describe(running.value)}`);
  }
  return {
    id: text(raw.job, 'Id', 'a Veeam job'),
    name: text(raw.job, 'Name', 'a Veeam job'),
    isRunning: running.present ? (running.value as boolean) : null,
    schedule: jobSchedule(raw.job),
  };
}

const ScheduleFlag = z.union([z.boolean(), z.enum(['True', 'False'])]);

/**
 * Whether Veeam's scheduler may start the job (facts.ts jobScheduleEnabledProperty): enabled,
 * disabled, or unknown when the job object has no such property or an unreadable one. Never a
 * failure: the schedule only decides a warning, the fenced start decides safety.
 */
export function jobSchedule(job: RawObject): JobSchedule {
  const found = property(job, VEEAM.jobScheduleEnabledProperty.value);
  const parsed = ScheduleFlag.safeParse(found.value);
  if (!found.present || !parsed.success) return 'unknown';
  return parsed.data === true || parsed.data === 'True' ? 'enabled' : 'disabled';
}

/**
 * Get-BackupJob's raw answer with the VMs Veeam will process (activities/vendor/containers.ts):
 * containers expanded in `inventory`, the Find-VBRViEntity views their types need (read them
 * first: jobInventoryViews), exclusions applied.
 */
export function interpretJob(
  raw: { job: RawObject; objects: RawValue[] },
  inventory: Partial<Record<InventoryView, RawValue[]>> = {},
): Omit<BackupJob, 'isRunning'> & { isRunning: boolean | null } {
  const header = interpretJobHeader(raw);
  const entries = classifyJobObjects(header.name, parseJobObjects(raw.objects));
  const entities: Partial<Record<InventoryView, ViEntity[]>> = {};
  for (const [view, values] of Object.entries(inventory) as [InventoryView, RawValue[]][]) {
    entities[view] = parseViEntities(values);
  }
  return { ...header, vms: expandJob(header.name, entries, entities) };
}

/** The Find-VBRViEntity views to read before interpretJob (none for a job of VMs only); fails on a container without a rule. */
export function jobInventoryViews(raw: { job: RawObject; objects: RawValue[] }): InventoryView[] {
  return viewsNeeded(classifyJobObjects(interpretJobHeader(raw).name, parseJobObjects(raw.objects)));
}
