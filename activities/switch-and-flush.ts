/**
 * A guard's first protect round as one activity (issue 12): the conditional switch to
 * write-through, then flush reads as `waitForFlush` makes them, for one VM. As two activities they
 * were two dispatches and two more workflow tasks per guard: 400 of each for a 200-VM job, and the
 * flush phase of such a job is the server's and the worker's work per guard (bench/SCALE-NOTES.md).
 *
 * Retrying the attempt is as safe as retrying either half: a retry after the switch took effect
 * writes nothing (policy-write.ts: the target is already in place), and the flush reads only read.
 * The switch stays a regular activity, never a local one: a stale workflow task (a paused worker
 * resuming after another finished the guard) must not be able to write; the server rejects a stale
 * task's commands, so its scheduled activity never runs.
 */
import type { FlushState, RequestedPolicy, VmPolicy } from '../domain/policy';
import type { FvpActivities, VmAddress } from './fvp';

export interface SwitchAndFlushRequest extends VmAddress {
  /** The switch's precondition (setWriteThrough): the requested policy the guard recorded. */
  expected?: RequestedPolicy | undefined;
  pollIntervalMs: number;
  returnAfterMs: number;
}

export interface SwitchAndFlushAnswer {
  /** What FVP says right after the switch (its current name, when addressed by uuid). */
  switched: VmPolicy;
  /** The last flush read: flushed, or not yet when `returnAfterMs` ran out. */
  flush: FlushState;
}

/** Composes the two activities the worker already has, so that each keeps its one definition. */
export function createSwitchAndFlush(fvp: Pick<FvpActivities, 'setWriteThrough' | 'waitForFlush'>) {
  return {
    async switchAndWaitForFlush({
      vm,
      uuid,
      expected,
      pollIntervalMs,
      returnAfterMs,
    }: SwitchAndFlushRequest): Promise<SwitchAndFlushAnswer> {
      const switched = await fvp.setWriteThrough({ vm, uuid, expected });
      const [flush] = await fvp.waitForFlush({
        vms: [switched.vm],
        ...(uuid === undefined ? {} : { uuids: [uuid] }),
        pollIntervalMs,
        returnAfterMs,
      });
      return { switched, flush: flush as FlushState };
    },
  };
}
