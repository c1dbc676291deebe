/**
 * The per-VM guards' step timeouts, from the worker's environment: a guard serves every run that
 * holds its VM, so its FVP and Veeam calls must not depend on which run asked first (one run with a
 * tiny step or a single retry would make every guard call fail for everyone). Each variable is
 * checked by the same schema, and has the same default, as the matching field of protectedBackup's
 * input; an error names the variable and the range.
 *
 *   FVPB_GUARD_HEARTBEAT                  timeouts.heartbeat             ('30 seconds')
 *   FVPB_GUARD_STEP_TIMEOUT               timeouts.step                  ('5 minutes')
 *   FVPB_GUARD_RETRY_INITIAL_INTERVAL     timeouts.retryInitialInterval  ('1 second')
 *   FVPB_GUARD_RETRY_MAXIMUM_ATTEMPTS     timeouts.retryMaximumAttempts  (10)
 *   FVPB_GUARD_RESTORE_MAX_INTERVAL       timeouts.restoreMaxInterval    ('1 minute')
 *   FVPB_GUARD_FLUSH_POLL_INTERVAL        flush.pollInterval             ('2 seconds')
 *   FVPB_GUARD_JOB_POLL_INTERVAL          veeam.pollInterval             ('5 seconds')
 */
import { z } from 'zod';
import type { GuardTimeouts } from '../domain/guard-protocol';
import { ProtectedBackupInput } from '../workflows/input';
import { guardTimeoutsOf } from '../workflows/step-timeouts';

const VARIABLES = {
  FVPB_GUARD_HEARTBEAT: ['timeouts', 'heartbeat'],
  FVPB_GUARD_STEP_TIMEOUT: ['timeouts', 'step'],
  FVPB_GUARD_RETRY_INITIAL_INTERVAL: ['timeouts', 'retryInitialInterval'],
  FVPB_GUARD_RETRY_MAXIMUM_ATTEMPTS: ['timeouts', 'retryMaximumAttempts'],
  FVPB_GUARD_RESTORE_MAX_INTERVAL: ['timeouts', 'restoreMaxInterval'],
  FVPB_GUARD_FLUSH_POLL_INTERVAL: ['flush', 'pollInterval'],
  FVPB_GUARD_JOB_POLL_INTERVAL: ['veeam', 'pollInterval'],
} as const;

const shape = ProtectedBackupInput.shape;
const GuardFields = z.object({ timeouts: shape.timeouts, flush: shape.flush, veeam: shape.veeam });

/** The value as the input schema takes it: a whole number of milliseconds, or a duration text. */
function asInput(name: keyof typeof VARIABLES, raw: string): string | number {
  const trimmed = raw.trim();
  return name === 'FVPB_GUARD_RETRY_MAXIMUM_ATTEMPTS' || /^\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
}

/** Parses the FVPB_GUARD_* timeouts; throws an Error whose message names each bad variable. */
export function guardTimeoutsFromEnv(env: NodeJS.ProcessEnv): GuardTimeouts {
  const fields: Record<string, Record<string, string | number>> = { timeouts: {}, flush: {}, veeam: {} };
  for (const [name, [group, field]] of Object.entries(VARIABLES) as [
    keyof typeof VARIABLES,
    readonly [string, string],
  ][]) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') (fields[group] as Record<string, string | number>)[field] = asInput(name, raw);
  }
  const parsed = GuardFields.safeParse(fields);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const path = issue.path.map(String).join('.');
      const name = Object.entries(VARIABLES).find(([, p]) => p.join('.') === path)?.[0];
      return `${name ?? path}: ${issue.message}`;
    });
    throw new Error(problems.join('; '));
  }
  return guardTimeoutsOf(parsed.data);
}
