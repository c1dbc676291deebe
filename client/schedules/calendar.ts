/**
 * Calendar specs as written in a schedule file, e.g. `{ hour: 22, minute: 30, dayOfWeek: MON-FRI }`,
 * checked field by field and turned into the SDK's CalendarSpec. A field is a number, a name
 * (months JAN..DEC or JANUARY.., days SUN..SAT or SUNDAY..), a range `a-b`, `*`, or a list of those.
 * Unset fields take Temporal's defaults: second, minute and hour 0; the others every value.
 */
import type { CalendarSpec } from '@temporalio/client';

const MONTHS = [
  'JANUARY',
  'FEBRUARY',
  'MARCH',
  'APRIL',
  'MAY',
  'JUNE',
  'JULY',
  'AUGUST',
  'SEPTEMBER',
  'OCTOBER',
  'NOVEMBER',
  'DECEMBER',
] as const;
const DAYS = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'] as const;

export const CALENDAR_FIELDS = ['second', 'minute', 'hour', 'dayOfMonth', 'month', 'dayOfWeek', 'year'] as const;
export type CalendarField = (typeof CALENDAR_FIELDS)[number];
export type CalendarValue = number | string | (number | string)[];
export type CalendarInput = Partial<Record<CalendarField, CalendarValue>> & { comment?: string };

const LIMITS: Record<CalendarField, [number, number]> = {
  second: [0, 59],
  minute: [0, 59],
  hour: [0, 23],
  dayOfMonth: [1, 31],
  month: [1, 12],
  dayOfWeek: [0, 6],
  year: [1970, 9999],
};

const NAMES: Partial<Record<CalendarField, readonly string[]>> = { month: MONTHS, dayOfWeek: DAYS };

/** A value of the field as a number (months from 1, days from 0 = Sunday), or what is wrong. */
function single(field: CalendarField, raw: string | number): number | string {
  const [min, max] = LIMITS[field];
  if (typeof raw === 'number' || /^\d+$/.test(raw)) {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) return `${raw} is out of range ${min}-${max}`;
    return n;
  }
  const names = NAMES[field];
  const upper = raw.toUpperCase();
  const index = names?.findIndex((name) => name === upper || (upper.length === 3 && name.startsWith(upper))) ?? -1;
  if (names && index >= 0) return field === 'month' ? index + 1 : index;
  return `${JSON.stringify(raw)} is not ${names ? 'a number or a name' : 'a number'}`;
}

type Range = { start: number; end: number } | '*';

function parseValue(field: CalendarField, raw: string | number): Range | string {
  if (raw === '*') return '*';
  if (typeof raw === 'string' && raw.includes('-')) {
    const [a, b, extra] = raw.split('-');
    if (extra !== undefined || !a || !b) return `${JSON.stringify(raw)} is not a range a-b`;
    const start = single(field, a);
    const end = single(field, b);
    if (typeof start === 'string') return start;
    if (typeof end === 'string') return end;
    if (start > end) return `range ${raw} runs backwards`;
    return { start, end };
  }
  const n = single(field, raw);
  return typeof n === 'string' ? n : { start: n, end: n };
}

/** null when every field is valid, else `field: what is wrong`. */
export function calendarProblem(calendar: CalendarInput): string | null {
  for (const field of CALENDAR_FIELDS) {
    const value = calendar[field];
    if (value === undefined) continue;
    for (const raw of Array.isArray(value) ? value : [value]) {
      const parsed = parseValue(field, raw);
      if (typeof parsed === 'string') return `${field}: ${parsed}`;
    }
  }
  return null;
}

function name(field: CalendarField, n: number): string | number {
  if (field === 'month') return MONTHS[n - 1] as string;
  if (field === 'dayOfWeek') return DAYS[n] as string;
  return n;
}

/** The SDK's CalendarSpec of a valid calendar (check calendarProblem first). */
export function toCalendarSpec(calendar: CalendarInput): CalendarSpec {
  const spec: Record<string, unknown> = {};
  for (const field of CALENDAR_FIELDS) {
    const value = calendar[field];
    if (value === undefined) continue;
    const ranges = (Array.isArray(value) ? value : [value]).map((raw) => parseValue(field, raw) as Range);
    spec[field] = ranges.includes('*')
      ? '*'
      : ranges.map((r) => {
          const range = r as { start: number; end: number };
          // A single value goes bare: SDK 1.24 encodes `{ start }` without `end` as end = 1.
          return range.start === range.end
            ? name(field, range.start)
            : { start: name(field, range.start), end: name(field, range.end) };
        });
  }
  if (calendar.comment) spec.comment = calendar.comment;
  return spec as CalendarSpec;
}

/** The numbers a valid field stands for (months from 1, days from 0 = Sunday); null for `*` or unset. */
export function calendarValues(calendar: CalendarInput, field: CalendarField): number[] | null {
  const value = calendar[field];
  if (value === undefined) return null;
  const values = new Set<number>();
  for (const raw of Array.isArray(value) ? value : [value]) {
    const range = parseValue(field, raw) as Range;
    if (range === '*') return null;
    for (let v = range.start; v <= range.end; v += 1) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}
