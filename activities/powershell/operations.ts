/**
 * The contract of our PowerShell module (FvpBackup.psm1): every operation it exports, the
 * arguments it takes and the one JSON document it prints. This file is the single source of truth
 * for those shapes: the TypeScript boundary validates every result against it, and the lab's
 * simulated host produces documents that must pass the same schemas. Every result is raw vendor
 * output (issue 11): activities/vendor/ interprets it, activities/powershell/errors.ts classifies
 * the errors.
 */
import { z } from 'zod';
import { RequestedPolicy, VmName } from '../../domain/policy';
import { classifyVendorError } from './classify';

/**
 * The vendor PowerShell module to load: TypeScript names it (facts.ts), the module holds no copy.
 * Optional only for the lab's own test clients; the worker always sends it and the module requires it.
 */
const vendorModule = z.string().min(1).max(200).optional();

/** How an endpoint connects; credentials are never part of this (they travel in the child's environment). */
export const ConnectArgs = z
  .object({ server: z.string().min(1), port: z.number().int().positive().optional(), module: vendorModule })
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
 * The one policy write (the module's Set-FvpPolicy: Set-PrnxAccelerationPolicy), with exactly what
 * activities/fvp.ts chose: the VM by `uuid` (-UUID) when given, else by its name `vm` (-Name, which
 * fvp.ts refuses for names with wildcard characters); write-through, or the recorded `policy`, one
 * parameter per field (externalPeers null: -NumWBExternalPeers not passed). The module checks
 * nothing: fvp.ts read the VM, decided the write is needed and allowed (the conditional write's
 * precondition), and reads it again afterwards.
 */
const target = { vm: VmName, uuid: z.string().min(1).max(200).optional() };
const written = z.object({ sent: z.literal(true) }).strict();

/** A Veeam session as Get-VBRBackupSession (or a per-job lookup) wrote it, with its task sessions. */
export const RawSession = z.object({ session: RawObject, tasks: z.array(RawValue) }).strict();
export type RawSession = z.infer<typeof RawSession>;

/**
 * The Find-VBRViEntity views (its switch parameters) a job's containers are expanded in
 * (activities/vendor/facts.ts VEEAM.containerViews picks one per container type).
 */
export const InventoryView = z.enum(['VMsAndTemplates', 'HostsAndClusters', 'DatastoresAndVMs', 'Tags']);
export type InventoryView = z.infer<typeof InventoryView>;

/** Get-Doctor's raw answer; activities/vendor/doctor-report.ts judges it into a DoctorReport. */
export const RawDoctor = z
  .object({
    endpoint: z.string(),
    psEdition: z.string(),
    psVersion: z.string(),
    connected: z.boolean(),
    /** Get-Module (or Import-Module) of the vendor module. */
    module: RawCall,
    /** Each command TypeScript asked about, with its parameter names (null: the command is missing). */
    commands: z.array(z.object({ name: z.string(), parameters: z.array(z.string()).nullable() }).strict()),
    observations: z.array(
      z.object({ probe: z.string(), subject: z.string().nullable(), result: z.unknown() }).strict(),
    ),
    /** What a simulated host says about itself (the lab: that it is one, what it assumes); never sent by the module. */
    notes: z.array(z.string()).optional(),
  })
  .strict();
export type RawDoctor = z.infer<typeof RawDoctor>;

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
  /** `commands`: the vendor cmdlets whose parameters to list (facts.ts CMDLETS of the endpoint). */
  'Get-Doctor': {
    endpoint: 'any',
    args: z
      .object({ module: vendorModule, commands: z.array(z.string().regex(/^[A-Za-z]+-\w+$/)).optional() })
      .strict(),
    result: RawDoctor,
  },

  // FVP
  /** Raw: interpreted into a VmPolicy by activities/vendor/interpret.ts. */
  'Get-VmCachePolicy': { endpoint: 'fvp', args: vmArgs, result: RawFvpVmMatches },
  /** Raw Get-PrnxObject -Type PrnxMServer objects (buildinfo, licensedFeatures): version and licence rules. */
  'Get-FvpServer': {
    endpoint: 'fvp',
    args: z.object({}).strict(),
    result: z.object({ servers: z.array(RawValue) }).strict(),
  },
  /**
   * The one write under two names, so that the lab's fault injection and records tell a switch to
   * write-through from a restore: both run the module's Set-FvpPolicy.
   */
  'Set-VmWriteThrough': {
    endpoint: 'fvp',
    args: z.object({ ...target, waitTimeSeconds: z.number().int().min(0).max(3600).optional() }).strict(),
    result: written,
  },
  'Restore-VmCachePolicy': {
    endpoint: 'fvp',
    args: z.object({ ...target, policy: RequestedPolicy }).strict(),
    result: written,
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
  /**
   * Raw Get-PrnxVM, every VM: the one listing of a poll round (issue 12), shared by every flush read
   * of the round (activities/fvp-listing.ts), instead of one listing per VM read.
   */
  'Get-FvpVms': {
    endpoint: 'fvp',
    args: z.object({}).strict(),
    result: z.object({ vms: z.array(RawObject) }).strict(),
  },
  /**
   * Raw Get-PrnxAccelerationPolicy (requested, -Effective) and Get-PrnxObjectStats (with -StartTime
   * when given) of one VM by its uuid, as read from the round's listing.
   */
  'Get-VmPolicyStats': {
    endpoint: 'fvp',
    args: z.object({ uuid: z.string().min(1).max(200), startTime: z.number().int().min(0).optional() }).strict(),
    result: z.object({ requested: RawCall, effective: RawCall, stats: RawCall }).strict(),
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
    args: z.object({ module: vendorModule }).strict(),
    result: z.object({ modules: z.array(RawValue) }).strict(),
  },
  /**
   * Raw: the job (Id, Name, IsRunning) and its Get-VBRJobObject entries (Name, Type, Location,
   * Object.ViType, Object.Name, Object.ObjectId: containers unexpanded), read by
   * activities/vendor/interpret-veeam.ts and containers.ts.
   */
  'Get-BackupJob': {
    endpoint: 'veeam',
    args: z.object({ job: z.string().min(1) }).strict(),
    result: z.object({ job: RawObject, objects: z.array(RawValue) }).strict(),
  },
  /**
   * Raw Find-VBRViEntity -<view> entities (Name, Type, Path, Reference): read only when the job has
   * containers, to expand them to their VMs (activities/vendor/containers.ts).
   */
  'Get-ViEntities': {
    endpoint: 'veeam',
    args: z.object({ view: InventoryView }).strict(),
    result: z.object({ entities: z.array(RawValue) }).strict(),
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
     * Start-VBRJob -RunAsync's return type is undocumented: the module returns the ids of the job's
     * sessions the lookup listed before the start, and activities/veeam.ts looks for the new one.
     * Any error after Start-VBRJob was sent is `start-unknown` (errors.ts): the job may be running.
     */
    result: z.object({ before: z.array(z.string()) }).strict(),
  },
  /** Raw: every session Get-VBRBackupSession -Id wrote (it may write several), with its tasks. */
  'Get-BackupSession': {
    endpoint: 'veeam',
    args: z.object({ sessionId: z.string().min(1) }).strict(),
    result: z.object({ matches: z.array(RawSession) }).strict(),
  },
  /** Raw: the job's sessions as the per-job lookup returns them (no tasks); TypeScript picks the newest. */
  'Find-BackupSession': {
    endpoint: 'veeam',
    args: z.object({ job: z.string().min(1), lookup }).strict(),
    result: z.object({ sessions: z.array(RawValue) }).strict(),
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
 * Categories of a failed call, assigned in TypeScript (activities/powershell/classify.ts) from the
 * raw error facts the module returns. `transient`: retry (server down, timeout, busy); `permanent`:
 * retrying cannot help (VM or job not found, bad parameter); `already-running`: the Veeam job has a
 * live session we did not start; `not-connected`: the session lost its server connection and must
 * be replaced.
 *
 * Refusals and unknown outcomes, never retried blindly (someone else acted, or may have):
 * `policy-changed`: a conditional write found another requested policy than `expected`, and wrote
 * nothing; `fence-moved`: Start-BackupJob found a newer session than its fence, and started
 * nothing; `start-unknown`: Start-VBRJob was sent and something failed after it: the job may be
 * running, so the caller re-attaches (finds the session newer than its fence), never starts again.
 *
 * `unrecognised`: a vendor error no rule of classify.ts knows (issue 11 finding 5: it used to
 * default to transient, so a restore refused for a reason nobody foresaw retried forever,
 * silently). Never retried by Temporal: a forward step fails closed, the restore loop (which never
 * gives up by design) reports it by name at every attempt.
 */
export const ErrorCategory = z.enum([
  'transient',
  'permanent',
  'already-running',
  'not-connected',
  'policy-changed',
  'fence-moved',
  'start-unknown',
  'unrecognised',
]);
export type ErrorCategory = z.infer<typeof ErrorCategory>;

/**
 * An error as the module returns it, raw: `code` only on errors the module raises itself
 * (VmNotFound, JobNotFound, FenceMoved, JobStartFailed...), the message, PowerShell's
 * FullyQualifiedErrorId and every exception of the chain (outermost first).
 */
export const RawError = z
  .object({
    code: z.string().nullable(),
    message: z.string(),
    errorId: z.string().nullable(),
    exceptions: z.array(z.object({ type: z.string(), message: z.string() }).strict()),
  })
  .strict();
export type RawError = z.infer<typeof RawError>;

/**
 * An error already classified: what the lab's fault injection prints to stand for "a vendor error
 * of this category" (the module never prints it).
 */
const ClassifiedError = z.object({ type: z.string(), message: z.string(), category: ErrorCategory }).strict();
export type ClassifiedError = z.infer<typeof ClassifiedError>;

/** The single JSON document `Invoke-Op` prints for every invocation; a raw error is classified on parsing. */
export const Envelope = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), op: z.string(), result: z.unknown() }).strict(),
  z
    .object({
      ok: z.literal(false),
      op: z.string(),
      error: z.union([ClassifiedError, RawError.transform((raw) => classifyVendorError(raw))]),
    })
    .strict(),
]);
/** As parsed: every error classified. */
export type Envelope = z.infer<typeof Envelope>;
/** As printed: what the module (or the lab standing in for it) writes. */
export type WireEnvelope = z.input<typeof Envelope>;
