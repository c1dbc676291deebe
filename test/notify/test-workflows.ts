/**
 * The product's workflows plus small test workflows that use what this issue adds the way the
 * product's workflows do: the metrics API of domain/metrics.ts, and the `notify` activity. Bundled
 * by test/integration/product-metrics.test.ts for a real worker process.
 */
import { condition, defineSignal, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import {
  backedUpUnprotected,
  flushVerified,
  recordRunOutcome,
  restoreAttempt,
  vmWriteThrough,
  writeThroughEnded,
} from '../../domain/metrics';
import { notificationKey, type NotifyResult } from '../../domain/notification';

export * from '../../workflows';

/** Every product metric once: one VM switched, flushed, restored after a failed attempt; one still owed. */
export async function emitProductMetrics(input: { job: string; restored: string; owed: string }): Promise<void> {
  vmWriteThrough(input.restored, true);
  vmWriteThrough(input.owed, true);
  flushVerified(input.restored, 2.5);
  restoreAttempt(input.restored, false);
  restoreAttempt(input.restored, true);
  writeThroughEnded(input.restored, 75);
  vmWriteThrough(input.restored, false);
  backedUpUnprotected(input.owed, input.job);
  recordRunOutcome('completed', input.job);
}

export const proceedSignal = defineSignal('proceed');

/** Emits `failed`, waits for a signal, then emits `cancelled`: a worker that replays the first part must not emit it again. */
export async function emitAcrossReplay(job: string): Promise<void> {
  let proceed = false;
  setHandler(proceedSignal, () => void (proceed = true));
  recordRunOutcome('failed', job);
  await condition(() => proceed);
  recordRunOutcome('cancelled', job);
}

const { notify } = proxyActivities<Pick<Activities, 'notify'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '100ms', backoffCoefficient: 1, maximumAttempts: 10 },
});

/** One backed-up-unprotected event, keyed by this execution and the VM, through the worker's channels. */
export async function notifyBackedUpUnprotected(input: {
  vm: string;
  job: string;
  session: string;
}): Promise<NotifyResult> {
  const { workflowId, runId } = workflowInfo();
  return notify({
    event: {
      kind: 'backed-up-unprotected',
      key: notificationKey({ workflowId, runId, kind: 'backed-up-unprotected', vm: input.vm }),
      at: new Date().toISOString(),
      workflowId,
      runId,
      ...input,
    },
  });
}
