/**
 * Telling people, from workflow code: one event per thing that happened, through the `notify`
 * activity (activities/notify/), which sends it once per channel and key. A notification never
 * changes a run's outcome: it is sent shielded from cancellation, and a failure to send is logged.
 * Runs since the `operator-notifications` patch send them; older histories replay without.
 */
import { CancellationScope, log, patched, workflowInfo } from '@temporalio/workflow';
import { notificationKey, type NotificationEventInput, type NotificationKind } from '../domain/notification';
import { notify } from './activity-proxies';
import { messageOf } from './failures';

export const OPERATOR_NOTIFICATIONS = 'operator-notifications';

/** The fields every event of this workflow execution carries, with its idempotency key. */
export function eventBase<K extends NotificationKind>(kind: K, parts: { vm?: string; episode?: string } = {}) {
  const info = workflowInfo();
  return {
    kind,
    key: notificationKey({ workflowId: info.workflowId, runId: info.firstExecutionRunId, kind, ...parts }),
    at: new Date(Date.now()).toISOString(),
    workflowId: info.workflowId,
    runId: info.runId,
  } as const;
}

/** Sends one event, if this history is of the patched code; never throws, never cancelled. */
export async function sendNotification(event: NotificationEventInput): Promise<void> {
  if (!patched(OPERATOR_NOTIFICATIONS)) return;
  try {
    await CancellationScope.nonCancellable(() => notify({ event }));
  } catch (err) {
    log.warn('notification not sent', { kind: event.kind, error: messageOf(err) });
  }
}
