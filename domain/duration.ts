/**
 * Durations as Temporal writes them, the one way the product reads them. Pure and workflow-safe.
 */
import { z } from 'zod';
import { msToNumber } from '@temporalio/common/lib/time';

/** A duration as Temporal writes them ('30 seconds', '2 minutes', '500ms') or milliseconds. */
export const DurationInput = z.union([
  z.number().int().positive(),
  z.string().refine(
    (value) => {
      try {
        return msToNumber(value as Parameters<typeof msToNumber>[0]) > 0;
      } catch {
        return false;
      }
    },
    { message: "expected a positive duration such as '30 seconds' or '2 minutes'" },
  ),
]);
export type DurationInput = z.infer<typeof DurationInput>;

export function durationMs(value: DurationInput): number {
  return msToNumber(value as Parameters<typeof msToNumber>[0]);
}
