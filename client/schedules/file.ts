/**
 * The schedule file (schedules-as-code): backup schedules declared in YAML, checked with zod, each
 * problem reported with its line and field (`schedules.yaml:12 schedules[1].spec.cron: ...`).
 *
 *   owner: ops-backup          # optional (default "schedules-as-code"): sync touches only this owner's schedules
 *   taskQueue: fvp-protected-backup   # optional (default: the CLI's --task-queue / TEMPORAL_TASK_QUEUE)
 *   schedules:
 *     - id: nightly-sql        # the Temporal schedule id
 *       job: Nightly-SQL
 *       vms: [sql-01]          # optional: VMs the job reaches through a container
 *       spec: { cron: '30 22 * * *' }      # or cron: [..], or calendar: { hour: 22, dayOfWeek: MON-FRI } / [..]
 *       timezone: Europe/Berlin           # default UTC
 *       jitter: 5 minutes                 # optional
 *       overlap: SKIP                     # SKIP (default), BUFFER_ONE or CANCEL_OTHER
 *       catchupWindow: 1 hour             # optional: how late a missed action may still start
 *       paused: false
 *       input: { transportMode: directsan, flush: { deadline: 15 minutes } }   # the rest of the input
 */
import { LineCounter, isMap, isPair, isScalar, parseDocument, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { ProtectedBackupInput, type ProtectedBackupRequest } from '../../workflows/input';
import { DurationInput } from '../../domain/duration';
import { calendarProblem, CALENDAR_FIELDS, type CalendarInput } from './calendar';
import { cronProblem } from './cron';
import { ScheduleFileError, type FileIssue } from '../errors';

export const DEFAULT_OWNER = 'schedules-as-code';

const REFUSED_OVERLAP: Record<string, string> = {
  TERMINATE_OTHER:
    'TERMINATE_OTHER is refused: terminating a run skips its restore, leaving VMs in write-through (use SKIP, BUFFER_ONE or CANCEL_OTHER)',
  ALLOW_ALL: 'ALLOW_ALL is refused: it would run two backups of one job at once (use SKIP, BUFFER_ONE or CANCEL_OTHER)',
  BUFFER_ALL:
    'BUFFER_ALL is refused: after an outage it would queue every missed backup and run them back to back (use SKIP, BUFFER_ONE or CANCEL_OTHER)',
};
export const OverlapPolicy = z.enum(['SKIP', 'BUFFER_ONE', 'CANCEL_OTHER'], {
  error: (issue) =>
    REFUSED_OVERLAP[String(issue.input)] ??
    `expected SKIP, BUFFER_ONE or CANCEL_OTHER, got ${JSON.stringify(issue.input)}`,
});
export type OverlapPolicy = z.infer<typeof OverlapPolicy>;

export const ScheduleId = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/,
    'expected letters, digits, ".", "_" or "-" (at most 200), e.g. nightly-sql',
  );

const CalendarValue = z.union([z.number(), z.string().min(1)]);
const Calendar = z
  .object({
    ...Object.fromEntries(
      CALENDAR_FIELDS.map((f) => [f, z.union([CalendarValue, z.array(CalendarValue).min(1)]).optional()]),
    ),
    comment: z.string().optional(),
  })
  .strict()
  .superRefine((calendar, ctx) => {
    const problem = calendarProblem(calendar as CalendarInput);
    if (problem) {
      const field = problem.slice(0, problem.indexOf(':'));
      ctx.addIssue({ code: 'custom', path: [field], message: problem.slice(field.length + 2) });
    }
  });

const Cron = z.string().superRefine((expression, ctx) => {
  const problem = cronProblem(expression);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const Spec = z
  .object({
    cron: z.union([Cron, z.array(Cron).min(1)]).optional(),
    calendar: z.union([Calendar, z.array(Calendar).min(1)]).optional(),
  })
  .strict()
  .refine((s) => (s.cron === undefined) !== (s.calendar === undefined), {
    message: 'expected exactly one of cron or calendar',
  });

const TimeZone = z.string().refine(
  (zone) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected an IANA time zone such as UTC or Europe/Berlin' },
);

/**
 * The rest of the protectedBackup input; checked with the workflow's own schema (job and vms are
 * the schedule's own fields, checked with the same schema's rules).
 */
const ScheduleInput = z
  .record(z.string(), z.unknown())
  .default({})
  .superRefine((input, ctx) => {
    for (const key of ['job', 'vms'] as const) {
      if (key in input)
        ctx.addIssue({ code: 'custom', path: [key], message: `set ${key} on the schedule, not in its input` });
    }
    if ('job' in input || 'vms' in input) return;
    const parsed = ProtectedBackupInput.safeParse({ ...input, job: 'job' });
    if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue(issue as never);
  });

export const ScheduleEntry = z
  .object({
    id: ScheduleId,
    job: ProtectedBackupInput.shape.job,
    vms: ProtectedBackupInput.shape.vms,
    spec: Spec,
    timezone: TimeZone.default('UTC'),
    jitter: DurationInput.optional(),
    overlap: OverlapPolicy.default('SKIP'),
    catchupWindow: DurationInput.optional(),
    paused: z.boolean().default(false),
    /** The protectedBackup input besides job and vms. */
    input: ScheduleInput,
  })
  .strict();
export type ScheduleEntryInput = z.input<typeof ScheduleEntry>;

export const ScheduleFile = z
  .object({
    owner: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/, 'expected letters, digits, ".", "_" or "-"')
      .default(DEFAULT_OWNER),
    taskQueue: z.string().min(1).optional(),
    schedules: z.array(ScheduleEntry),
  })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.schedules.forEach((s, i) => {
      if (seen.has(s.id))
        ctx.addIssue({ code: 'custom', path: ['schedules', i, 'id'], message: `duplicate id ${s.id}` });
      seen.add(s.id);
    });
  });

/** One schedule as declared, defaults filled in: what sync makes Temporal match. */
export interface ScheduleDefinition {
  id: string;
  job: string;
  vms: string[] | null;
  spec: { cron: string[] } | { calendar: CalendarInput[] };
  timezone: string;
  jitter: DurationInput | null;
  overlap: OverlapPolicy;
  catchupWindow: DurationInput | null;
  paused: boolean;
  /** The protectedBackup input each run gets (job and vms included). */
  request: ProtectedBackupRequest;
}

export interface ScheduleSet {
  owner: string;
  taskQueue: string | undefined;
  schedules: ScheduleDefinition[];
}

function requestOf(entry: { job: string; vms?: string[]; input: Record<string, unknown> }): ProtectedBackupRequest {
  return { ...entry.input, job: entry.job, ...(entry.vms ? { vms: entry.vms } : {}) } as ProtectedBackupRequest;
}

export function toDefinition(entry: z.infer<typeof ScheduleEntry>): ScheduleDefinition {
  const spec = entry.spec;
  const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
  return {
    id: entry.id,
    job: entry.job,
    vms: entry.vms ?? null,
    spec: spec.cron !== undefined ? { cron: list(spec.cron) } : { calendar: list(spec.calendar as CalendarInput) },
    timezone: entry.timezone,
    jitter: entry.jitter ?? null,
    overlap: entry.overlap,
    catchupWindow: entry.catchupWindow ?? null,
    paused: entry.paused,
    request: requestOf(entry),
  };
}

/** The line of the node at `path` (or of its nearest ancestor that exists); for an unknown key, that key's line. */
function lineOf(doc: Document, counter: LineCounter, path: PropertyKey[], key?: string): number | null {
  for (let depth = path.length; depth >= 0; depth -= 1) {
    const node = doc.getIn(path.slice(0, depth) as unknown[], true) as Node | undefined;
    if (!node || !('range' in node) || !node.range) continue;
    if (key !== undefined && depth === path.length && isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
      const keyNode = pair?.key as Node | undefined;
      if (keyNode?.range) return counter.linePos(keyNode.range[0]).line;
    }
    return counter.linePos(node.range[0]).line;
  }
  return null;
}

/** Parses and checks a schedule file's text; throws ScheduleFileError naming line and field. */
export function parseScheduleFile(text: string, fileName: string): ScheduleSet {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ScheduleFileError(
      fileName,
      doc.errors.map((e) => ({
        line: e.linePos?.[0]?.line ?? null,
        path: '',
        message: (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, ''),
      })),
    );
  }
  const parsed = ScheduleFile.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    const issues: FileIssue[] = parsed.error.issues.map((issue) => {
      const unknownKey = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
      return {
        line: lineOf(doc, counter, issue.path, unknownKey),
        path: z.core.toDotPath(issue.path) || '(file)',
        message: issue.message,
      };
    });
    issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    throw new ScheduleFileError(fileName, issues);
  }
  return {
    owner: parsed.data.owner,
    taskQueue: parsed.data.taskQueue,
    schedules: parsed.data.schedules.map(toDefinition),
  };
}
