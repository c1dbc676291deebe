/**
 * What a run shows while it runs (the `status` query) and what it returns (the report). One shape
 * for both, so an operator reads the same facts in the UI, the CLI and the result.
 */
import { z } from 'zod';
import { RequestedPolicy, CacheMode } from '../domain/policy';
import { SessionResult, SessionState } from '../domain/veeam';

export const Phase = z.enum([
  'validating',
  'resolving',
  'preflight',
  'switching-to-write-through',
  'verifying-flush',
  'backing-up',
  'restoring',
  'completed',
  'failed',
  'cancelled',
]);
export type Phase = z.infer<typeof Phase>;

export const VmStep = z.enum([
  'planned',
  'skipped', // not accelerated by FVP (or listed in outsideFvp): nothing to switch
  'switching',
  'flushing',
  'flushed',
  'restoring',
  'restored',
  'restore-failing', // keeps being retried; visible here until it succeeds
  'kept-change', // someone else changed its policy during the run: kept as they set it, reported, not restored
  'released', // let go to its per-VM guard while other runs still hold it; the last one restores
  // Below: a release that ended without a restore (guard/holder.ts, patch RESTORE_TERMINAL_OUTCOMES).
  'gone', // FVP no longer knows the VM (deleted, or removed from FVP): not restored, nothing left to restore; a warning
  'not-accelerated', // no longer in an FVP cluster: not restored, nothing left to restore; a warning
  'restore-handed-over', // the restore kept failing: still write-through, its guard keeps restoring alone; the run fails
]);
export type VmStep = z.infer<typeof VmStep>;

export const VmStatus = z.object({
  vm: z.string(),
  /** Where the VM came from: listed in the input, or found in the Veeam job. */
  source: z.enum(['input', 'job', 'input+job']),
  accelerated: z.boolean(),
  recorded: RequestedPolicy.nullable(),
  /** Requested write-through before the run: verified, but left alone and never "restored". */
  alreadyWriteThrough: z.boolean(),
  step: VmStep,
  /** Last seen flush progress. */
  effective: CacheMode.nullable(),
  timeToDestageSeconds: z.number().nullable(),
  /** Workflow-clock times (ISO): when write-through was requested and when the policy came back. */
  writeThroughAt: z.string().nullable(),
  flushedAt: z.string().nullable(),
  restoredAt: z.string().nullable(),
  restoreAttempts: z.number().int(),
  lastError: z.string().nullable(),
  /** The VM's FVP uuid as resolveVms read it: its guard is keyed on it (since `guard-by-uuid`). */
  uuid: z.string().optional(),
  /** The per-VM guard (workflow id) this run held the VM through; absent for runs without one. */
  guardId: z.string().optional(),
  /** Set when the VM left write-through (or its flush) after it was verified: what was seen. */
  drift: z.string().optional(),
  /** How many other runs held the VM through its guard when this run was granted it, or released it. */
  sharedWith: z.number().int().optional(),
  /**
   * Workflow-clock time (ISO) this run let the VM go: as soon as its Veeam task was done (early
   * release), else when the session ended or the run stopped.
   */
  releasedAt: z.string().optional(),
  /** The VM's write-through window in this run: from the switch to the release, in seconds. */
  writeThroughSeconds: z.number().optional(),
});
export type VmStatus = z.infer<typeof VmStatus>;

export const BackupStatus = z.object({
  sessionId: z.string().nullable(),
  state: SessionState.nullable(),
  result: SessionResult.nullable(),
  progress: z.number().nullable(),
  /** Per-VM task results as Veeam reports them. */
  tasks: z.array(z.object({ vm: z.string(), status: z.string(), result: SessionResult })),
});
export type BackupStatus = z.infer<typeof BackupStatus>;

export const RunStatus = z.object({
  job: z.string(),
  dryRun: z.boolean(),
  phase: Phase,
  vms: z.array(VmStatus),
  backup: BackupStatus,
  startedAt: z.string(),
  /** Phase name → ISO time the phase began. */
  timings: z.record(z.string(), z.string()),
  endedAt: z.string().nullable(),
  warnings: z.array(z.string()),
  error: z.string().nullable(),
  /** For dryRun: what a real run would do. */
  plan: z.array(z.string()),
});
export type RunStatus = z.infer<typeof RunStatus>;

/** The result of a run that completed (a failed run carries the same report in its failure details). */
export type RunReport = RunStatus;
