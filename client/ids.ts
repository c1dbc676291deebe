/**
 * Workflow ids, chosen on purpose (see README "Workflow ids and double starts"):
 *
 * - A run of job J started from code, the CLI or the demo has the id `protected-backup/J`, started
 *   with `workflowIdConflictPolicy: FAIL` (or `USE_EXISTING` when the caller asks to attach) and
 *   `workflowIdReusePolicy: ALLOW_DUPLICATE`: while a run of J is open a second start cannot begin
 *   another one; once it closed (whatever its result) the id is free again.
 * - A schedule's action uses the same base id; the server appends the scheduled time
 *   (`protected-backup/J-2025-01-31T22:00:00Z`), so every run of J shares one prefix. A schedule's own
 *   overlap policy (SKIP by default) keeps its runs apart; `start` also refuses while an open run of
 *   J started by a schedule is visible (best effort: visibility lags by up to a second).
 * - Every run carries the memo `{ job }`, so lists can show and filter the job of any run.
 */
import { z } from 'zod';
import {
  JobName,
  MAX_JOB_NAME_BYTES,
  RUN_ID_PREFIX,
  SCHEDULED_ID_SUFFIX_EXAMPLE,
  TEMPORAL_MAX_ID_BYTES,
  utf8ByteLength,
} from '../workflows/input';
import { InvalidInputError } from './errors';

export const WORKFLOW_TYPE = 'protectedBackup';
/** The reconciler's schedule (client/guard/reconciler-schedule.ts). */
export const RECONCILER_SCHEDULE_ID = 'reconcile-policies';
export const ID_PREFIX = 'protected-backup/';

// The input's bound on job names is computed from this prefix and from what a schedule appends: a
// valid job's ids, `protected-backup/<job>` and `protected-backup/<job>-<time>`, fit Temporal's limit.
if (
  ID_PREFIX !== RUN_ID_PREFIX ||
  utf8ByteLength(ID_PREFIX) + MAX_JOB_NAME_BYTES + utf8ByteLength(SCHEDULED_ID_SUFFIX_EXAMPLE) > TEMPORAL_MAX_ID_BYTES
) {
  throw new Error(`client/ids.ts: ${ID_PREFIX}<job> does not fit the job-name bound of workflows/input.ts`);
}

const JobOfId = z.object({ job: JobName });

/** `protected-backup/<job>`; throws InvalidInputError naming `job` for a name whose ids would be too long. */
export function workflowIdFor(job: string): string {
  const parsed = JobOfId.safeParse({ job });
  if (!parsed.success) throw InvalidInputError.from(WORKFLOW_TYPE, parsed.error);
  return `${ID_PREFIX}${job}`;
}

/** `protected-backup/<job>` or a scheduled `protected-backup/<job>-<RFC 3339 time>`. */
const SCHEDULED_SUFFIX = /-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** The job a run is of, from its memo or its id (`null` for a run started under another id without memo). */
export function jobOf(workflowId: string, memo: Record<string, unknown> | undefined): string | null {
  if (typeof memo?.job === 'string') return memo.job;
  if (!workflowId.startsWith(ID_PREFIX)) return null;
  return workflowId.slice(ID_PREFIX.length).replace(SCHEDULED_SUFFIX, '');
}
