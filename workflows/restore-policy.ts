/**
 * THE loop that gives a VM its recorded policy back: the only workflow code that calls
 * restoreCachePolicy. Verified (the activity reads the policy back and compares), and it never
 * gives up: a failed attempt waits, doubling up to `restoreMaxIntervalMs`, and tries again, for as
 * long as it takes. Both guards use it: the per-VM guard (guard/entity.ts) in production, the
 * run-local guard (guard/run-local.ts) for v1 replays and the benchmark baseline.
 *
 * The write is conditional: it replaces only the write-through the guard left. When FVP says the
 * VM's requested policy is something else now (an admin changed it on purpose during the hold),
 * the change is kept and reported, never overwritten. A retry after a lost answer finds the
 * recorded policy in place and succeeds.
 *
 * Since the patch RESTORE_TERMINAL_OUTCOMES (the caller asks it and passes `terminalOutcomes`),
 * two failures end the loop, because no attempt can ever succeed and nothing is left in
 * write-through on FVP: 'vm-gone' (FVP no longer knows the VM: deleted, or removed from FVP) and
 * 'not-accelerated' (no longer in an FVP cluster). They are decided from the failure type alone:
 * the activity confirms both with a fresh read before it says so (activities/fvp.ts). And a pause
 * after a failed attempt ends early when `interruptWhen` says so ('interrupted': a new holder
 * wants the VM, which is still write-through; the guard serves it and restores at its release).
 */
import { condition, sleep } from '@temporalio/workflow';
import type { RequestedPolicy, VmPolicy } from '../domain/policy';
import type { StepProxies } from './activity-proxies';
import { FailureType, messageOf, typeOf } from './failures';
import type { StepTimeouts } from './step-timeouts';

export interface RestoreHooks {
  /** Before each attempt (count it). */
  attempt(): void;
  /** An attempt failed with this message; the loop pauses next. */
  failed(message: string): void;
  /** After a failed attempt, before the pause: tell someone (a notification). */
  afterFailure?(message: string): Promise<void>;
  /** After each pause: a long outage must not grow the history without bound (continue-as-new). */
  paused?(): Promise<void>;
}

/** The patch under which the guard's restore ends on a gone or unaccelerated VM and yields to a new acquire. */
export const RESTORE_TERMINAL_OUTCOMES = 'restore-terminal-outcomes';

export interface RestoreOptions {
  /** Histories since RESTORE_TERMINAL_OUTCOMES: 'vm-gone' and 'not-accelerated' end the loop. */
  terminalOutcomes: boolean;
  /** Checked during each pause after a failure: true ends the loop with 'interrupted'. */
  interruptWhen?: () => boolean;
  /**
   * The VM's FVP uuid (guards since `guard-by-uuid`): the restore finds the VM by it, so a VM
   * renamed during the hold gets its policy back (answered with its new name), not 'vm-gone'.
   */
  uuid?: string;
}

/** The write-through a guard leaves, which a restore expects to replace (peer counts do not matter in it). */
const LEFT_WRITE_THROUGH: RequestedPolicy = { mode: 'WriteThrough', peers: 0, externalPeers: null };

export type RestoreOutcome =
  | { kind: 'restored'; policy: VmPolicy }
  /** Someone else changed the VM's policy during the hold: kept as they set it, and reported. */
  | { kind: 'changed-by-someone-else'; message: string }
  /** FVP no longer knows the VM (deleted, or removed from FVP): nothing left to restore, reported loudly. */
  | { kind: 'vm-gone'; message: string }
  /** The VM is no longer in an FVP cluster: nothing left to restore, reported loudly. */
  | { kind: 'not-accelerated'; message: string }
  /** A pause was cut short (`interruptWhen`): nothing restored, the VM is still write-through. */
  | { kind: 'interrupted' };

/** The terminal outcomes a restore ends with when FVP can no longer take the recorded policy. */
export type TerminalRestoreOutcome = Extract<RestoreOutcome, { kind: 'vm-gone' | 'not-accelerated' }>;

export async function restorePolicy(
  restore: StepProxies['restore'],
  vm: string,
  recorded: RequestedPolicy,
  timeouts: Pick<StepTimeouts, 'retryInitialMs' | 'restoreMaxIntervalMs'>,
  hooks: RestoreHooks,
  options: RestoreOptions = { terminalOutcomes: false },
): Promise<RestoreOutcome> {
  let pauseMs = timeouts.retryInitialMs;
  for (;;) {
    hooks.attempt();
    try {
      return {
        kind: 'restored',
        policy: await restore.restoreCachePolicy({
          vm,
          ...(options.uuid === undefined ? {} : { uuid: options.uuid }),
          policy: recorded,
          expected: LEFT_WRITE_THROUGH,
        }),
      };
    } catch (err) {
      if (typeOf(err) === FailureType.policyChanged)
        return { kind: 'changed-by-someone-else', message: messageOf(err) };
      if (options.terminalOutcomes && typeOf(err) === FailureType.vmNotFound)
        return { kind: 'vm-gone', message: messageOf(err) };
      if (options.terminalOutcomes && typeOf(err) === FailureType.vmNotAccelerated)
        return { kind: 'not-accelerated', message: messageOf(err) };
      hooks.failed(messageOf(err));
      await hooks.afterFailure?.(messageOf(err));
      if (options.interruptWhen) {
        if (await condition(options.interruptWhen, pauseMs)) return { kind: 'interrupted' };
      } else {
        await sleep(pauseMs);
      }
      pauseMs = Math.min(pauseMs * 2, timeouts.restoreMaxIntervalMs);
      await hooks.paused?.();
    }
  }
}
