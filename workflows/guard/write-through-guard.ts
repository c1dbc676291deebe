/**
 * The seam between a run and its VMs' caching policy: "switch these VMs to write-through and
 * verify the flush", then "give them back". Production runs hold their VMs through the per-VM
 * guards (holder.ts); runs recorded before the `vm-guard` patch replay with the run-local guard
 * (run-local.ts), which benchmarks also use as their baseline.
 */
import type { VmStatus } from '../status';

export interface WriteThroughGuard {
  /** Switches the accelerated VMs to write-through and waits until FVP has destaged every one. */
  protect(vms: VmStatus[]): Promise<void>;
  /** Gives every VM this run touched exactly its recorded policy back. Never gives up; never throws. */
  release(): Promise<void>;
  /**
   * Lets these VMs go now, while the run goes on (Veeam has read them): only those granted and not
   * let go yet; returns them. `release` later only waits for their answers. Absent: the run-local guard.
   */
  releaseEarly?(vms: VmStatus[]): Promise<VmStatus[]>;
}
