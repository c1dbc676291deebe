/**
 * The contract of our PowerShell module (FvpBackup.psm1): every operation it exports, the
 * arguments it takes and the one JSON document it prints. This file is the single source of truth
 * for those shapes: the TypeScript boundary validates every result against it, and the lab's
 * simulated host produces documents that must pass the same schemas.
 */
import { z } from 'zod';
import { DoctorReport } from '../../domain/endpoint';
import { RequestedPolicy, VmName, VmPolicy } from '../../domain/policy';
import { BackupJob, BackupSession } from '../../domain/veeam';

/** How an endpoint connects; credentials are never part of this (they travel in the child's environment). */
export const ConnectArgs = z
  .object({ server: z.string().min(1), port: z.number().int().positive().optional() })
  .strict();

const vmArgs = z.object({ vm: VmName }).strict();

/**
 * Raw vendor output, as the module projects it (issue 11: the module interprets nothing): a scalar
 * as the cmdlet returned it (dates as ISO 8601 UTC, enums and GUIDs as text), or an object as its
 * .NET type name under `@type` plus the properties of a fixed list (all, where no list is fixed),
 * nested objects as their text. A property the object lacks is absent, never defaulted.
 * activities/vendor/interpret.ts reads these with the vendor-facts table.
 */
export const RawScalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export const RawObject = z.record(z.string(), RawScalar);
export const RawValue = z.union([RawScalar, RawObject]);
export type RawValue = z.infer<typeof RawValue>;
export type RawObject = z.infer<typeof RawObject>;
/** One vendor call run for its output: every object it wrote, or its error as data. */
export const RawCall = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), values: z.array(RawValue) }).strict(),
  z.object({ ok: z.literal(false), type: z.string(), message: z.string() }).strict(),
]);
export type RawCall = z.infer<typeof RawCall>;
/**
 * One Get-PrnxVM object named exactly as asked, with the raw outputs of Get-PrnxAccelerationPolicy
 * -UUID (requested) and -UUID -Effective (effective), and of Get-PrnxObjectStats when asked for
 * (null: not run, e.g. the object has no uuid to call them with).
 */
export const RawFvpVm = z
  .object({ vm: RawObject, requested: RawCall.nullable(), effective: RawCall.nullable(), stats: RawCall.nullable() })
  .strict();
export type RawFvpVm = z.infer<typeof RawFvpVm>;
export const RawFvpVmMatches = z.object({ matches: z.array(RawFvpVm) }).strict();
export type RawFvpVmMatches = z.infer<typeof RawFvpVmMatches>;

/**
 * A conditional write's precondition: the requested policy the caller believes the VM has now. The
 * module refuses (`policy-changed`) when the VM's current requested policy is not this one (compared
 * as `samePolicy` does), and succeeds without writing when the target is already in place. Absent:
 * an unconditional write (callers not yet converted; to become required).
 */
const expectedPolicy = RequestedPolicy.optional();

/**
 * How the module finds a job's sessions (issue 11 finding 1): never the unfiltered
 * Get-VBRBackupSession, which reads the server's whole history on every call. TypeScript chooses by
 * Veeam version (activities/vendor/facts.ts VEEAM.sessionLookup): `FindLastSession` ($job.FindLastSession(),
 * the newest session only), `GetByJob` ([Veeam.Backup.Core.CBackupSession]::GetByJob($job.Id)),
 * `JobParameter` (Get-VBRBackupSession -Job, v13 only).
 */
export const SessionLookup = z.enum(['FindLastSession', 'GetByJob', 'JobParameter']);
export type SessionLookup = z.infer<typeof SessionLookup>;
const lookup = SessionLookup.default('FindLastSession');

/**
 * Every operation, keyed by the PowerShell function name. `args` is what TypeScript sends
 * (base64 JSON), `result` the document the function prints on success.
 */
export const operations = {
  // Session set-up, run once per PowerShell process.
  'Connect-Endpoint': { endpoint: 'any', args: ConnectArgs, result: z.object({ connected: z.literal(true) }).strict() },
  'Get-Doctor': { endpoint: 'any', args: z.object({}).strict(), result: DoctorReport },

  // FVP
  /** Raw: interpreted into a VmPolicy by activities/vendor/interpret.ts. */
  'Get-VmCachePolicy': { endpoint: 'fvp', args: vmArgs, result: RawFvpVmMatches },
  /** Raw Get-PrnxObject -Type PrnxMServer objects (buildinfo, licensedFeatures): version and licence rules. */
  'Get-FvpServer': {
    endpoint: 'fvp',
    args: z.object({}).strict(),
    result: z.object({ servers: z.array(RawValue) }).strict(),
  },
  'Set-VmWriteThrough': {
    endpoint: 'fvp',
    args: z
      .object({ vm: VmName, waitTimeSeconds: z.number().int().min(0).max(3600).optional(), expected: expectedPolicy })
      .strict(),
    result: VmPolicy,
  },
  'Restore-VmCachePolicy': {
    endpoint: 'fvp',
    args: z.object({ vm: VmName, policy: RequestedPolicy, expected: expectedPolicy }).strict(),
    result: VmPolicy,
  },
  /**
   * Raw, with Get-PrnxObjectStats -NumberOfSamples 1 (and -StartTime when given: FVP 3.1+ needs
   * -StartTime 0, a version rule of activities/vendor/facts.ts): interpreted into a FlushState.
   */
  'Get-VmFlushState': {
    endpoint: 'fvp',
    args: z.object({ vm: VmName, startTime: z.number().int().min(0).optional() }).strict(),
    result: RawFvpVmMatches,
  },
  /** Raw, like Get-VmCachePolicy: whether the proxy is VADP-blacklisted is read in TypeScript (facts FVP.vadpBlacklist). */
  'Get-ProxyVadp': { endpoint: 'fvp', args: vmArgs, result: RawFvpVmMatches },
  /**
   * Set-PrnxProperty <vm> -Name <property> -Value <value> (issue 11 finding 4: the only blacklist
   * call in public code is `-Name cachePolicy -Value 1`, 3 to add back): property and value come
   * from the facts table. The module does not verify: TypeScript reads it back.
   */
  'Set-ProxyVadp': {
    endpoint: 'fvp',
    args: z.object({ vm: VmName, property: z.string().regex(/^[A-Za-z]+$/), value: z.number().int() }).strict(),
    result: z.object({ vm: VmName, sent: z.literal(true) }).strict(),
  },

  // Veeam
  /** Raw: the Veeam PowerShell module (name, version), for the version rules of the facts table. */
  'Get-VeeamServer': {
    endpoint: 'veeam',
    args: z.object({}).strict(),
    result: z.object({ modules: z.array(RawValue) }).strict(),
  },
  'Get-BackupJob': {
    endpoint: 'veeam',
    args: z.object({ job: z.string().min(1), lookup }).strict(),
    result: BackupJob,
  },
  'Start-BackupJob': {
    endpoint: 'veeam',
    args: z
      .object({
        job: z.string().min(1),
        fullBackup: z.boolean(),
        retryBackup: z.boolean(),
        /**
         * The id of the job's newest session when the run took its fence (null: the job had none).
         * The module refuses (`fence-moved`) when the newest session is no longer this one: somebody
         * started the job since. Absent: no fence (an operator's or a test's own start).
         */
        fence: z.string().min(1).nullable().optional(),
        lookup,
      })
      .strict(),
    /**
     * Start-VBRJob -RunAsync's return type is undocumented: the module finds the new session itself.
     * Any error after Start-VBRJob was sent is `start-unknown`: the job may be running.
     */
    result: BackupSession,
  },
  'Get-BackupSession': {
    endpoint: 'veeam',
    args: z.object({ sessionId: z.string().min(1) }).strict(),
    result: BackupSession,
  },
  /** Newest session of a job created at or after `since` (ISO), or null: how a retry re-attaches. */
  'Find-BackupSession': {
    endpoint: 'veeam',
    args: z.object({ job: z.string().min(1), since: z.string().min(1), lookup }).strict(),
    result: z.object({ session: BackupSession.nullable() }).strict(),
  },
  'Stop-BackupJob': {
    endpoint: 'veeam',
    args: z.object({ job: z.string().min(1) }).strict(),
    result: z.object({ job: z.string(), stopRequested: z.literal(true) }).strict(),
  },
} as const;

export type OperationName = keyof typeof operations;
export type OperationArgs<O extends OperationName> = z.input<(typeof operations)[O]['args']>;
export type OperationResult<O extends OperationName> = z.infer<(typeof operations)[O]['result']>;

export const operationNames = Object.keys(operations) as OperationName[];

/**
 * Categories the module assigns to errors. `transient`: retry (server down, timeout, busy);
 * `permanent`: retrying cannot help (VM or job not found, bad parameter); `already-running`: the
 * Veeam job has a live session we did not start; `not-connected`: the session lost its server
 * connection and must be replaced.
 *
 * Refusals and unknown outcomes, never retried blindly (someone else acted, or may have):
 * `policy-changed`: a conditional write found another requested policy than `expected`, and wrote
 * nothing; `fence-moved`: Start-BackupJob found a newer session than its fence, and started
 * nothing; `start-unknown`: Start-VBRJob was sent and something failed after it: the job may be
 * running, so the caller re-attaches (finds the session newer than its fence), never starts again.
 */
export const ErrorCategory = z.enum([
  'transient',
  'permanent',
  'already-running',
  'not-connected',
  'policy-changed',
  'fence-moved',
  'start-unknown',
]);
export type ErrorCategory = z.infer<typeof ErrorCategory>;

/** The single JSON document `Invoke-Op` prints for every invocation. */
export const Envelope = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), op: z.string(), result: z.unknown() }).strict(),
  z
    .object({
      ok: z.literal(false),
      op: z.string(),
      error: z.object({ type: z.string(), message: z.string(), category: ErrorCategory }).strict(),
    })
    .strict(),
]);
export type Envelope = z.infer<typeof Envelope>;
