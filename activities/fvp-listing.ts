/**
 * One Get-PrnxVM listing per poll round per FVP server (issue 12): every flush read of the worker
 * (the guards' and the runs' waitForFlush, each its own activity) takes the VM objects from a
 * listing read at most one poll interval ago, or joins the one in flight, and then reads only its
 * own VM's policy and statistics by uuid. Before, each read listed every VM: a 200-VM job polling
 * every 2 s asked the management server for 100 full listings a second.
 *
 * Nothing couples the guards to each other: a listing that fails fails only the reads that shared
 * it (each retries as its own activity), and one cancelled by the activity that started it (its
 * attempt timed out or was cancelled) is read again by the others rather than failing them.
 * Whatever a listing says about a VM that matters to the flush (its requested and effective
 * policy, the time to destage) is read fresh per VM; from the listing come its uuid, its flash
 * cluster and its peer counts, which a poll interval does not make stale in a way that matters.
 * A read that decides a write (a VM found by its uuid, activities/fvp.ts) takes a fresh listing
 * (`fresh`): one that is still being read when it asks, or a new one, never one already answered;
 * the flush reads of the round then share it. Joining one in flight keeps 200 guards switching at
 * once from asking for 600 full listings (a read, and one before and after each write), and it is
 * no staler than the read itself: the listing answers after the caller asked, as its own would.
 */
import type { OperationInvoker } from './invoker';
import type { RawObject } from './powershell/operations';
import { SharedRead } from './shared-read';

export class FvpListing {
  private readonly listing: SharedRead<RawObject[]>;

  constructor(fvp: OperationInvoker, now: () => number = Date.now) {
    this.listing = new SharedRead(() => fvp.invoke('Get-FvpVms', {}).then((r) => r.vms), now);
  }

  /** Every VM object FVP lists, read at most `maxAgeMs` ago (or in flight now). */
  vms(maxAgeMs: number): Promise<RawObject[]> {
    return this.listing.recent(maxAgeMs);
  }

  /** Every VM object FVP lists, from a listing that answers after this call: in flight now, or new. */
  fresh(): Promise<RawObject[]> {
    return this.listing.fresh();
  }
}
