/**
 * The reconciler's Temporal Schedule, as code: creates it, or brings an existing one to the given
 * settings (an update keeps its id, its history of actions and its paused state unless asked).
 *
 * Overlap SKIP: a reconciliation still waiting for a guard is not doubled by the next one, and
 * never terminated (TERMINATE_OTHER would be exactly the kind of cleanup-skipping close this
 * workflow exists for). Each action has a run timeout so that a stuck run cannot make SKIP skip
 * forever; the guards do the restoring, so cutting a reconciler short loses nothing.
 *
 *   await syncReconcilerSchedule(client, { taskQueue: 'fvp-protected-backup', every: '10 minutes' });
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { z } from 'zod';
import { DurationInput, durationMs } from '../../domain/duration';
import { RECONCILER_SCHEDULE_ID } from '../ids';
import { startDetails, summary } from '../metadata';
import { RECONCILE_WORKFLOW_TYPE, type ReconcileRequest } from '../../workflows/reconcile-policies';

export { RECONCILER_SCHEDULE_ID };

export const ReconcilerScheduleOptions = z
  .object({
    /** The worker's task queue. */
    taskQueue: z.string().min(1),
    /** How often to reconcile. */
    every: DurationInput.default('10 minutes'),
    /** Only report (each run's result) instead of restoring. */
    dryRun: z.boolean().default(false),
    scheduleId: z.string().min(1).default(RECONCILER_SCHEDULE_ID),
    /** Create (or leave) it paused. Default: unpaused on create, unchanged on update. */
    paused: z.boolean().optional(),
  })
  .strict();
export type ReconcilerScheduleOptions = z.input<typeof ReconcilerScheduleOptions>;

export interface ReconcilerScheduleResult {
  scheduleId: string;
  created: boolean;
  every: DurationInput;
  dryRun: boolean;
}

export async function syncReconcilerSchedule(
  client: Client,
  options: ReconcilerScheduleOptions,
): Promise<ReconcilerScheduleResult> {
  const o = ReconcilerScheduleOptions.parse(options);
  const everyMs = durationMs(o.every);
  const args: [ReconcileRequest] = [{ dryRun: o.dryRun }];
  const action = {
    type: 'startWorkflow' as const,
    workflowType: RECONCILE_WORKFLOW_TYPE,
    taskQueue: o.taskQueue,
    args,
    // The server appends the scheduled time to this id.
    workflowId: o.scheduleId,
    workflowRunTimeout: Math.max(10 * everyMs, 30 * 60_000),
    staticSummary: summary(`reconcile VM policies every ${String(o.every)}${o.dryRun ? ', dry run' : ''}`),
    staticDetails: startDetails({
      input: args[0],
      startedBy: `schedule ${o.scheduleId}`,
      via: `\`guard schedule\` (set up by ${client.options.identity})`,
    }),
  };
  const spec = { intervals: [{ every: everyMs }] };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: Math.max(everyMs, 60_000) };
  try {
    await client.schedule.create({
      scheduleId: o.scheduleId,
      spec,
      action,
      policies,
      state: { paused: o.paused ?? false, note: 'reconciles VM caching policies left by closed guards' },
      memo: { purpose: 'fvp-protected-backup reconciler' },
    });
    return { scheduleId: o.scheduleId, created: true, every: o.every, dryRun: o.dryRun };
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(o.scheduleId).update((previous) => ({
    ...previous,
    spec,
    action,
    policies,
    state: { ...previous.state, paused: o.paused ?? previous.state.paused },
  }));
  return { scheduleId: o.scheduleId, created: false, every: o.every, dryRun: o.dryRun };
}
