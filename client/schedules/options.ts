/**
 * A schedule definition (from a file or `schedule create`) as Temporal schedule options. The run
 * each action starts is a protectedBackup with the definition's input, the workflow id
 * `protected-backup/<job>` (the server appends the action time) and the memo `{ job, schedule,
 * definition }`: `definition` is what sync compares next time, since the server rewrites cron
 * expressions into calendars and a description cannot be compared with the file directly.
 */
import type { ScheduleOptions, ScheduleUpdateOptions } from '@temporalio/client';
import { WORKFLOW_TYPE, workflowIdFor } from '../ids';
import { runSummary, startDetails } from '../metadata';
import { startSearchAttributes } from '../search-attributes';
import { toCalendarSpec } from './calendar';
import type { ScheduleDefinition } from './file';
import { ownershipMemo, type Ownership } from './ownership';

/** What sync compares: everything declared except `paused` (compared with the live state). */
export interface StoredDefinition extends Omit<ScheduleDefinition, 'paused'> {
  taskQueue: string;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}

/** Key order never matters: the same definition always gives the same text. */
export function canonical(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

export function storedDefinition(definition: ScheduleDefinition, taskQueue: string): StoredDefinition {
  const { paused: _paused, ...rest } = definition;
  return { ...rest, taskQueue };
}

function specOf(definition: ScheduleDefinition): ScheduleOptions['spec'] {
  return {
    ...('cron' in definition.spec
      ? { cronExpressions: definition.spec.cron }
      : { calendars: definition.spec.calendar.map(toCalendarSpec) }),
    timezone: definition.timezone,
    ...(definition.jitter !== null ? { jitter: definition.jitter as never } : {}),
  };
}

/** The summary of each run a schedule starts: the same line as a run started by hand. */
export function scheduledRunSummary(definition: ScheduleDefinition): string {
  const { request } = definition;
  return runSummary({
    job: definition.job,
    vms: request.vms,
    transportMode: request.transportMode,
    dryRun: request.dryRun,
  });
}

function actionOf(definition: ScheduleDefinition, taskQueue: string, ownership: Ownership): ScheduleOptions['action'] {
  return {
    type: 'startWorkflow',
    workflowType: WORKFLOW_TYPE,
    taskQueue,
    workflowId: workflowIdFor(definition.job),
    args: [definition.request],
    memo: {
      job: definition.job,
      schedule: definition.id,
      definition: canonical(storedDefinition(definition, taskQueue)),
    },
    typedSearchAttributes: startSearchAttributes(definition.job, definition.request.vms),
    staticSummary: scheduledRunSummary(definition),
    // The server starts scheduled runs under its own identity: the details name the schedule.
    staticDetails: startDetails({
      input: definition.request,
      startedBy: `schedule ${definition.id}`,
      via:
        ownership.source === 'file'
          ? `the schedule file of owner ${JSON.stringify(ownership.owner ?? '?')}`
          : 'a schedule created with the CLI',
    }),
    // No workflow timeouts, ever: a timed-out run closes without its restore.
  };
}

function policiesOf(definition: ScheduleDefinition): ScheduleOptions['policies'] {
  return {
    overlap: definition.overlap,
    ...(definition.catchupWindow !== null ? { catchupWindow: definition.catchupWindow as never } : {}),
  };
}

export const MANAGED_NOTE = 'managed by fvp-protected-backup';

export function toScheduleOptions(
  definition: ScheduleDefinition,
  taskQueue: string,
  ownership: Ownership,
): ScheduleOptions {
  return {
    scheduleId: definition.id,
    spec: specOf(definition),
    action: actionOf(definition, taskQueue, ownership),
    policies: policiesOf(definition),
    memo: ownershipMemo(ownership),
    state: {
      paused: definition.paused,
      note:
        ownership.source === 'file'
          ? `${MANAGED_NOTE}: schedule file of owner ${ownership.owner ?? '?'}; change the file, then sync`
          : `${MANAGED_NOTE}: created with the CLI`,
    },
  };
}

export function toUpdateOptions(
  definition: ScheduleDefinition,
  taskQueue: string,
  ownership: Ownership,
): ScheduleUpdateOptions {
  const { scheduleId: _id, memo: _memo, state, ...rest } = toScheduleOptions(definition, taskQueue, ownership);
  return { ...rest, state: { paused: state?.paused, note: state?.note } };
}
