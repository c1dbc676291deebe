/**
 * What a VM's FVP caching policy is, and what "flushed" means: the vocabulary every layer speaks
 * (workflows, activities, client, lab). Pure and workflow-safe: imports nothing of the project.
 */
import { z } from 'zod';

/** A VM as FVP and Veeam name it. Any characters are legal: names travel as data, never as code. */
export const VmName = z.string().min(1).max(8192);

export const CacheMode = z.enum(['WriteBack', 'WriteThrough']);
export type CacheMode = z.infer<typeof CacheMode>;

/** The requested policy: what an admin configured and what a run must give back exactly. */
export const RequestedPolicy = z
  .object({
    mode: CacheMode,
    /** Write-back peers (0..2); meaningful only in write-back. */
    peers: z.number().int().min(0).max(2),
    /** External (fault-domain) peers; null where the licence has no fault domains. */
    externalPeers: z.number().int().min(0).max(8).nullable(),
  })
  .strict();
export type RequestedPolicy = z.infer<typeof RequestedPolicy>;

export const VmPolicy = z
  .object({
    vm: VmName,
    uuid: z.string().min(1),
    /** False when FVP does not accelerate the VM at all (not in an FVP cluster). */
    accelerated: z.boolean(),
    requested: RequestedPolicy,
    /** What FVP actually does now; lags the requested mode while dirty data destages. */
    effective: CacheMode,
  })
  .strict();
export type VmPolicy = z.infer<typeof VmPolicy>;

export const FlushState = z
  .object({
    vm: VmName,
    requested: RequestedPolicy,
    effective: CacheMode,
    /** Seconds of dirty data left to destage (Get-PrnxObjectStats time_to_destage). */
    timeToDestageSeconds: z.number().min(0),
  })
  .strict();
export type FlushState = z.infer<typeof FlushState>;

/**
 * Whether `b` gives the VM back exactly `a`: peer counts only matter in write-back, and `null`
 * external peers (no fault domains licensed) equal 0: FVP may read a VM-level policy back as 0
 * where none was recorded, and a restore verified by this must not loop forever on that.
 */
export function samePolicy(a: RequestedPolicy, b: RequestedPolicy): boolean {
  if (a.mode !== b.mode) return false;
  if (a.mode === 'WriteThrough') return true;
  return a.peers === b.peers && (a.externalPeers ?? 0) === (b.externalPeers ?? 0);
}

/** Flushed: write-through requested and in effect, and nothing left to destage. */
export function isFlushed(state: FlushState | undefined): boolean {
  return (
    state !== undefined &&
    state.requested.mode === 'WriteThrough' &&
    state.effective === 'WriteThrough' &&
    state.timeToDestageSeconds === 0
  );
}
