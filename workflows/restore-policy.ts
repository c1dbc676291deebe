/**
 * THE loop that gives a VM its recorded policy back: the only workflow code that calls
 * restoreCachePolicy. Verified (the activity reads the policy back and compares), and it never
 * gives up: a failed attempt waits, doubling up to `restoreMaxIntervalMs`, and tries again, for as
 * long as it takes. Both guards use it: the per-VM guard (guard/entity.ts) in production, the
 * run-local guard (guard/run-local.ts) for v1 replays and the benchmark baseline.
 */
import { sleep } from '@temporalio/workflow';
import type { RequestedPolicy, VmPolicy } from '../domain/policy';
import type { StepProxies } from './activity-proxies';
import { messageOf } from './failures';
import type { StepTimeouts } from './step-timeouts';

export interface RestoreHooks {
  /** Before each attempt (count it). */
  attempt(): void;
  /** An attempt failed with this message; the loop pauses next. */
  failed(message: string): void;
  /** After each pause: a long outage must not grow the history without bound (continue-as-new). */
  paused?(): Promise<void>;
}

export async function restorePolicy(
  restore: StepProxies['restore'],
  vm: string,
  recorded: RequestedPolicy,
  timeouts: Pick<StepTimeouts, 'retryInitialMs' | 'restoreMaxIntervalMs'>,
  hooks: RestoreHooks,
): Promise<VmPolicy> {
  let pauseMs = timeouts.retryInitialMs;
  for (;;) {
    hooks.attempt();
    try {
      return await restore.restoreCachePolicy({ vm, policy: recorded });
    } catch (err) {
      hooks.failed(messageOf(err));
      await sleep(pauseMs);
      pauseMs = Math.min(pauseMs * 2, timeouts.restoreMaxIntervalMs);
      await hooks.paused?.();
    }
  }
}
