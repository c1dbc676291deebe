/**
 * How the worker reads flush states (issue 12): one Get-PrnxVM listing per poll round, shared by
 * every read of the worker (fvp-listing.ts), then per VM its policy and statistics by uuid. The
 * raw answer is assembled as the module's own per-VM read (Get-VmFlushState) returns it, and read
 * by the same interpretation, so both say the same about a VM. A VM given with its FVP uuid is
 * found in the listing by that uuid, never by its name (fvp-by-uuid.ts), and its state carries
 * the name the listing shows now.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { OperationInvoker } from './invoker';
import type { FlushState } from '../domain/policy';
import { FvpListing } from './fvp-listing';
import { describeVm, readByUuid } from './fvp-by-uuid';
import { whileHeartbeating } from './heartbeat';
import type { RawFvpVm, RawObject } from './powershell/operations';
import { FVP } from './vendor/facts';
import { interpretFlushState, property, type FvpServerFacts } from './vendor/interpret';

/** A VM to read: by its FVP uuid when given (its name then only names it in failures), else by name. */
export interface FlushTarget {
  vm: string;
  uuid?: string | undefined;
}

export function createFlushReader(fvp: OperationInvoker, listing: FvpListing = new FvpListing(fvp)) {
  /** A VM's objects named exactly `vm` (as the module's reads match), then one's policy and statistics. */
  async function readByName(vm: string, vms: RawObject[], facts: FvpServerFacts): Promise<FlushState> {
    const named = vms.filter((o) => property(o, FVP.vmNameProperty.value).value === vm);
    const matches: RawFvpVm[] = named.map((o) => ({ vm: o, requested: null, effective: null, stats: null }));
    const uuid = named.length === 1 ? property(named[0] as RawObject, FVP.vmUuidProperty.value).value : null;
    if (typeof uuid === 'string' && uuid !== '') {
      const args = facts.statsStartTime === undefined ? { uuid } : { uuid, startTime: facts.statsStartTime };
      matches[0] = { vm: named[0] as RawObject, ...(await whileHeartbeating(fvp.invoke('Get-VmPolicyStats', args))) };
    }
    return interpretFlushState(vm, { matches }, facts);
  }

  async function readOne(target: FlushTarget, vms: RawObject[], facts: FvpServerFacts): Promise<FlushState> {
    if (target.uuid === undefined) return readByName(target.vm, vms, facts);
    const found = await readByUuid(fvp, vms, target.uuid, facts);
    if (found === null) {
      throw ApplicationFailure.nonRetryable(
        `${describeVm(target.vm, target.uuid)} is not known to FVP: no VM has this uuid`,
        'VmNotFound',
      );
    }
    return interpretFlushState(found.name, found.raw, facts);
  }

  return {
    /** The flush state of each VM, from a listing at most `roundMs` old, or why it could not be read. */
    async read(
      targets: (string | FlushTarget)[],
      facts: FvpServerFacts,
      roundMs: number,
    ): Promise<PromiseSettledResult<FlushState>[]> {
      let listed: RawObject[];
      try {
        listed = await listing.vms(roundMs);
      } catch (reason) {
        return targets.map(() => ({ status: 'rejected', reason }));
      }
      return Promise.allSettled(targets.map((t) => readOne(typeof t === 'string' ? { vm: t } : t, listed, facts)));
    },
  };
}
