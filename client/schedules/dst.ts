/**
 * Schedules that would silently skip a backup. On the day a time zone springs forward (Europe/Rome:
 * 02:00 -> 03:00 on the last Sunday of March), the local times in between do not exist, and
 * Temporal starts no action at all for a spec time inside that gap (test/client/dst.test.ts shows
 * it on the dev server: `30 2 * * *` in Europe/Rome has no run on 28 March 2027). On the day it
 * falls back nothing is skipped (some times near the repeated hour may run twice).
 *
 * Found with Node's Intl only: the zone's gaps in the coming year (where its UTC offset grows),
 * then, for each gap, the hours and minutes the spec can fire at on that day.
 *
 * Warn, don't refuse: the schedule is valid and runs on every other day of the year. Refusing
 * would make a file that synced yesterday fail today (a sync is all or nothing, so one such entry
 * would hold back every other change in the file), and an operator may accept one missed night a
 * year (a weekly full covers it, say). The warning names the date and the fix, comes with every
 * `schedule create` and `schedule sync`, and is in the --json document for scripts that want to
 * fail on it.
 */
import { calendarValues, type CalendarInput } from './calendar';
import { cronValues } from './cron';
import type { ScheduleDefinition } from './file';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** A stretch of local time that does not exist: the clocks jump from `from` to `to` on `date`. */
export interface TimeGap {
  /** The local date of the jump, YYYY-MM-DD. */
  date: string;
  /** Local wall-clock times: `from` (inclusive) to `to` (exclusive) do not exist, e.g. 02:00 and 03:00. */
  from: string;
  to: string;
  /** The instant of the jump. */
  at: Date;
  /** The same bounds as wall-clock milliseconds (a local time read as if it were UTC). */
  startWall: number;
  endWall: number;
}

/** What a spec can fire at: minutes of the day, and whether it fires on a local date at all. */
interface FirePattern {
  minutesOfDay: number[];
  onDay(wall: Date): boolean;
}

export interface DstWarning {
  schedule: string;
  timeZone: string;
  /** The first date in the coming year on which a time of the spec does not exist. */
  date: string;
  /** The spec's local times that do not exist that day, HH:MM. */
  times: string[];
  gap: { from: string; to: string };
  message: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The local wall-clock time at `ms`, as milliseconds read as if it were UTC. */
function wallClock(timeZone: string, ms: number): number {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  const part = Object.fromEntries(format.formatToParts(ms).map((p) => [p.type, Number(p.value)]));
  return Date.UTC(part.year!, part.month! - 1, part.day!, part.hour!, part.minute!, part.second!);
}

function offset(timeZone: string, ms: number): number {
  return wallClock(timeZone, ms) - Math.floor(ms / 1000) * 1000;
}

const hhmm = (wall: number): string => new Date(wall).toISOString().slice(11, 16);
const isoDate = (wall: number): string => new Date(wall).toISOString().slice(0, 10);

/** The first minute at which the offset differs from the one at `low` (it does at `high`). */
function jumpInstant(timeZone: string, low: number, high: number): number {
  const before = offset(timeZone, low);
  let [lo, hi] = [low, high];
  while (hi - lo > MINUTE) {
    const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
    if (offset(timeZone, mid) === before) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * The gaps of a zone between `from` and `days` later: every instant where its UTC offset grows
 * (spring forward, or a zone moving its clocks ahead for good). Zones change offset at most a few
 * times a year, weeks apart, so sampling every three hours and then bisecting finds each to the minute.
 */
export function timeGaps(timeZone: string, from: Date, days = 366): TimeGap[] {
  const step = 3 * 60 * MINUTE;
  const start = Math.floor(from.getTime() / MINUTE) * MINUTE;
  const gaps: TimeGap[] = [];
  let previous = offset(timeZone, start);
  for (let t = start + step; t <= start + days * DAY; t += step) {
    const current = offset(timeZone, t);
    if (current > previous) {
      const at = jumpInstant(timeZone, t - step, t);
      const [startWall, endWall] = [at + offset(timeZone, at - MINUTE), at + offset(timeZone, at)];
      gaps.push({
        date: isoDate(startWall),
        from: hhmm(startWall),
        to: hhmm(endWall),
        at: new Date(at),
        startWall,
        endWall,
      });
    }
    previous = current;
  }
  return gaps;
}

function allOf(min: number, max: number): number[] {
  return Array.from({ length: max - min + 1 }, (_, i) => min + i);
}

function minutesOfDay(hours: number[], minutes: number[]): number[] {
  return hours.flatMap((h) => minutes.map((m) => h * 60 + m));
}

const within = (values: number[] | null, n: number) => values === null || values.includes(n);

function cronPattern(expression: string): FirePattern {
  const v = cronValues(expression);
  return {
    minutesOfDay: minutesOfDay(v.hour ?? allOf(0, 23), v.minute ?? allOf(0, 59)),
    onDay(wall) {
      if (!within(v.month, wall.getUTCMonth() + 1)) return false;
      const dom = within(v.dayOfMonth, wall.getUTCDate());
      const dow = within(v.dayOfWeek, wall.getUTCDay());
      // Both restricted: the usual cron fires when either matches. Taking the wider reading can
      // only warn more, never miss a skipped run.
      return v.dayOfMonth !== null && v.dayOfWeek !== null ? dom || dow : dom && dow;
    },
  };
}

function calendarPattern(calendar: CalendarInput): FirePattern {
  // Unset hour and minute are 0 in Temporal's calendars; unset days, months and years are every value.
  const timeField = (field: 'hour' | 'minute', max: number) =>
    calendar[field] === undefined ? [0] : (calendarValues(calendar, field) ?? allOf(0, max));
  const values = {
    dayOfMonth: calendarValues(calendar, 'dayOfMonth'),
    month: calendarValues(calendar, 'month'),
    dayOfWeek: calendarValues(calendar, 'dayOfWeek'),
    year: calendarValues(calendar, 'year'),
  };
  return {
    minutesOfDay: minutesOfDay(timeField('hour', 23), timeField('minute', 59)),
    onDay: (wall) =>
      within(values.year, wall.getUTCFullYear()) &&
      within(values.month, wall.getUTCMonth() + 1) &&
      within(values.dayOfMonth, wall.getUTCDate()) &&
      within(values.dayOfWeek, wall.getUTCDay()),
  };
}

function patternsOf(spec: ScheduleDefinition['spec']): FirePattern[] {
  return 'cron' in spec ? spec.cron.map(cronPattern) : spec.calendar.map(calendarPattern);
}

/** The spec's local times that fall in the gap, HH:MM (none when it does not fire that day). */
function timesInGap(patterns: FirePattern[], gap: TimeGap): string[] {
  const times = new Set<string>();
  // A gap may cross midnight: try the day it starts and the day it ends.
  const days = new Set([Math.floor(gap.startWall / DAY) * DAY, Math.floor((gap.endWall - 1) / DAY) * DAY]);
  for (const day of days) {
    for (const pattern of patterns) {
      if (!pattern.onDay(new Date(day))) continue;
      for (const minute of pattern.minutesOfDay) {
        const wall = day + minute * MINUTE;
        if (wall >= gap.startWall && wall < gap.endWall) times.add(hhmm(wall));
      }
    }
  }
  return [...times].sort();
}

function message(id: string, timeZone: string, gap: TimeGap, times: string[]): string {
  const shown = times.length > 3 ? `${times.slice(0, 3).join(', ')}, ... (${times.length} times)` : times.join(', ');
  const one = times.length === 1;
  return (
    `schedule ${id}: ${shown} ${one ? 'does' : 'do'} not exist in ${timeZone} on ${gap.date} (the clocks jump ` +
    `from ${gap.from} to ${gap.to}): Temporal starts no backup at ${one ? 'that time' : 'those times'} that day. ` +
    `Pick ${one ? 'a time' : 'times'} outside ${gap.from}–${gap.to} local, or use timezone UTC`
  );
}

/**
 * For each schedule whose spec has a time inside a gap of its zone in the coming year, a warning
 * naming the first such date and the fix. `now` is the start of that year.
 */
export function dstWarnings(definitions: ScheduleDefinition[], now = new Date()): DstWarning[] {
  const gapsOf = new Map<string, TimeGap[]>();
  const warnings: DstWarning[] = [];
  for (const definition of definitions) {
    const zone = definition.timezone;
    if (!gapsOf.has(zone)) gapsOf.set(zone, timeGaps(zone, now));
    const patterns = patternsOf(definition.spec);
    for (const gap of gapsOf.get(zone) ?? []) {
      const times = timesInGap(patterns, gap);
      if (!times.length) continue;
      warnings.push({
        schedule: definition.id,
        timeZone: zone,
        date: gap.date,
        times,
        gap: { from: gap.from, to: gap.to },
        message: message(definition.id, zone, gap, times),
      });
      break;
    }
  }
  return warnings;
}
