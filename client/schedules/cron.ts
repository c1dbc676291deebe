/**
 * Checks a cron expression before it reaches the server, so that a bad one is reported with its
 * line in the schedule file. Accepted: the five standard fields (minute hour day-of-month month
 * day-of-week) with `*`, numbers, ranges `a-b`, steps `/n`, lists `a,b` and the names JAN-DEC and
 * SUN-SAT, or one of @yearly @annually @monthly @weekly @daily @midnight @hourly. The time zone is
 * the schedule's `timezone` (no `CRON_TZ=` prefix).
 */
const MACROS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const FIELDS: { name: string; min: number; max: number; names?: string[]; nameBase?: number }[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: 'day of week', min: 0, max: 6, names: DAYS, nameBase: 0 },
];

function value(text: string, field: (typeof FIELDS)[number]): number | string {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n < field.min || n > field.max ? `${text} is out of range ${field.min}-${field.max}` : n;
  }
  const index = field.names?.indexOf(text.toUpperCase()) ?? -1;
  if (index >= 0) return index + (field.nameBase ?? 0);
  return `${JSON.stringify(text)} is not a number${field.names ? ` or a name (${field.names[0]}..)` : ''}`;
}

function checkPart(part: string, field: (typeof FIELDS)[number]): string | null {
  const [range, step, extra] = part.split('/');
  if (extra !== undefined || range === undefined || range === '') return `${JSON.stringify(part)} is malformed`;
  if (step !== undefined && !/^[1-9]\d*$/.test(step)) return `step ${JSON.stringify(step)} must be a positive number`;
  if (range === '*') return null;
  const bounds = range.split('-');
  if (bounds.length > 2) return `${JSON.stringify(range)} is malformed`;
  const values = bounds.map((b) => value(b, field));
  const bad = values.find((v) => typeof v === 'string');
  if (bad !== undefined) return bad as string;
  if (values.length === 2 && (values[0] as number) > (values[1] as number)) return `range ${range} runs backwards`;
  return null;
}

/** null when valid, else what is wrong. */
export function cronProblem(expression: string): string | null {
  const text = expression.trim();
  if (text.startsWith('@')) return MACROS.has(text) ? null : `unknown macro ${JSON.stringify(text)}`;
  if (/^CRON_TZ=|^TZ=/i.test(text)) return 'set the time zone with `timezone`, not CRON_TZ=';
  const fields = text.split(/\s+/);
  if (fields.length !== 5) {
    return `expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`;
  }
  for (let i = 0; i < 5; i += 1) {
    const field = FIELDS[i]!;
    for (const part of fields[i]!.split(',')) {
      const problem = checkPart(part, field);
      if (problem) return `${field.name}: ${problem}`;
    }
  }
  return null;
}

const MACRO_FIELDS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** The numbers one field of a valid expression stands for; null for `*` (every value). */
function expand(text: string, field: (typeof FIELDS)[number]): number[] | null {
  if (text === '*') return null;
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const [range = '*', step] = part.split('/');
    const [low, high] = range === '*' ? [field.min, field.max] : range.split('-').map((b) => value(b, field) as number);
    // `5/15` runs from 5 to the end of the field, as in the usual cron.
    const end = high ?? (step !== undefined ? field.max : (low as number));
    for (let v = low as number; v <= end; v += Number(step ?? 1)) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

/**
 * What a valid expression (check cronProblem first) can fire at: minutes, hours, days of month,
 * months (1-12), days of week (0 = Sunday); null where the field is `*`.
 */
export function cronValues(expression: string): {
  minute: number[] | null;
  hour: number[] | null;
  dayOfMonth: number[] | null;
  month: number[] | null;
  dayOfWeek: number[] | null;
} {
  const text = expression.trim();
  const fields = (MACRO_FIELDS[text] ?? text).split(/\s+/);
  const [minute, hour, dayOfMonth, month, dayOfWeek] = FIELDS.map((field, i) => expand(fields[i] ?? '*', field));
  return {
    minute: minute ?? null,
    hour: hour ?? null,
    dayOfMonth: dayOfMonth ?? null,
    month: month ?? null,
    dayOfWeek: dayOfWeek ?? null,
  };
}
