/**
 * The product's workflows plus two small test workflows that emit the product metrics through the
 * workflow-side API of domain/metrics.ts, the way protectedBackup and vmGuard call it; bundled by
 * test/integration/product-metrics.test.ts for a real worker process.
 */
import { condition, defineSignal, setHandler } from '@temporalio/workflow';
import {
  backedUpUnprotected,
  flushVerified,
  recordRunOutcome,
  restoreAttempt,
  vmWriteThrough,
  writeThroughEnded,
} from '../../domain/metrics';

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
