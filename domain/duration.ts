/**
 * Durations as Temporal writes them, the one way the product reads them, each within the range its
 * field allows. Pure and workflow-safe.
 *
 * Every duration that reaches a Node timer inside an activity (`Context.sleep`, `setTimeout`,
 * `setInterval`) must stay below 2^31 ms: Node turns a longer delay into 1 ms (with a
 * TimeoutOverflowWarning), so '30 days' would poll in a tight loop. `boundedDuration` refuses a
 * range that goes beyond it; only the general `DurationInput` (durations that go to the Temporal
 * server, never to a Node timer: a schedule's catch-up window or jitter) may be longer.
 */
import { z } from 'zod';
import { msToNumber } from '@temporalio/common/lib/time';

/** The longest delay a Node timer honours (2^31 - 1 ms, about 24.8 days). */
export const NODE_TIMER_MAX_MS = 2 ** 31 - 1;

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

const NOT_A_DURATION = "expected a positive duration such as '30 seconds' or '2 minutes'";

/** Milliseconds of a duration string as Temporal reads it, or undefined when it is not a positive one. */
function parseMs(value: string): number | undefined {
  try {
    const ms = msToNumber(value as Parameters<typeof msToNumber>[0]);
    return Number.isFinite(ms) && ms > 0 ? ms : undefined;
  } catch {
    return undefined;
  }
}

/** `100 ms`, `1 second`, `10 minutes`, `24 hours`, `7 days`: the largest unit that divides exactly (days from 2). */
export function formatMs(ms: number): string {
  if (ms >= 2 * DAY && ms % DAY === 0) return `${ms / DAY} days`;
  for (const [unit, size] of [
    ['hour', HOUR],
    ['minute', MINUTE],
    ['second', SECOND],
  ] as const) {
    if (ms >= size && ms % size === 0) {
      const n = ms / size;
      return `${n} ${unit}${n === 1 ? '' : 's'}`;
    }
  }
  return `${ms} ms`;
}

function durationBetween(minMs: number, maxMs: number) {
  const range = `expected a duration between ${formatMs(minMs)} and ${formatMs(maxMs)}`;
  const within = (ms: number) => ms >= minMs && ms <= maxMs;
  return z.union(
    [
      // Milliseconds: zod's own messages for a number that is not a positive integer, else the range.
      z
        .number()
        .int()
        .positive()
        .superRefine((ms, ctx) => {
          if (Number.isInteger(ms) && ms > 0 && !within(ms)) ctx.addIssue({ code: 'custom', message: range });
        }),
      z.string().superRefine((value, ctx) => {
        const ms = parseMs(value);
        if (ms === undefined) ctx.addIssue({ code: 'custom', message: NOT_A_DURATION });
        else if (!within(ms)) ctx.addIssue({ code: 'custom', message: range });
      }),
    ],
    { error: NOT_A_DURATION },
  );
}

/**
 * A duration field with its own range, inclusive, stated in its message ("expected a duration
 * between 1 second and 10 minutes"). Never beyond what a Node timer honours.
 */
export function boundedDuration(minMs: number, maxMs: number) {
  if (!(Number.isInteger(minMs) && minMs > 0 && minMs <= maxMs && maxMs <= NODE_TIMER_MAX_MS)) {
    throw new RangeError(`boundedDuration(${minMs}, ${maxMs}): expected 0 < min <= max <= ${NODE_TIMER_MAX_MS} ms`);
  }
  return durationBetween(minMs, maxMs);
}

/**
 * A duration as Temporal writes them ('30 seconds', '2 minutes', '500ms') or milliseconds, between
 * 1 ms and 10 years. Only for durations that go to the Temporal server and never to a Node timer;
 * a field of a workflow or worker input uses `boundedDuration` with the range its use allows.
 */
export const DurationInput = durationBetween(1, 3650 * DAY);
export type DurationInput = z.infer<typeof DurationInput>;

export function durationMs(value: DurationInput): number {
  return msToNumber(value as Parameters<typeof msToNumber>[0]);
}
