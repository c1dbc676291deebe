/**
 * The contract of our PowerShell module (FvpBackup.psm1): every operation it exports, the
 * arguments it takes and the one JSON document it prints. This file is the single source of truth
 * for those shapes: the TypeScript boundary validates every result against it, and the lab's
 * simulated host produces documents that must pass the same schemas.
 */
import { z } from 'zod';

/** Which PowerShell host an operation runs on: FVP (Windows PowerShell 5.1) or Veeam (5.1 or pwsh 7). */
export const EndpointName = z.enum(['fvp', 'veeam']);
export type EndpointName = z.infer<typeof EndpointName>;

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

export const SessionState = z.enum([
  'Stopped',
  'Starting',
  'Stopping',
  'Working',
  'Pausing',
  'Resuming',
  'WaitingTape',
  'Idle',
  'Postprocessing',
  'WaitingRepository',
  'WaitingSlot',
  'Pending',
  'ActionRequired',
]);
export type SessionState = z.infer<typeof SessionState>;

export const SessionResult = z.enum(['None', 'Success', 'Warning', 'Failed']);
export type SessionResult = z.infer<typeof SessionResult>;

export const TaskSession = z
  .object({
    vm: VmName,
    status: z.string(),
    result: SessionResult,
    progress: z.number().min(0).max(100),
  })
  .strict();

export const BackupSession = z
  .object({
    id: z.string().min(1),
    jobId: z.string().min(1),
    jobName: z.string(),
    state: SessionState,
    result: SessionResult,
    progress: z.number().min(0).max(100),
    /** ISO 8601, formatted by the module with .ToString('o'). */
    creationTime: z.string(),
    endTime: z.string().nullable(),
    tasks: z.array(TaskSession),
  })
  .strict();
export type BackupSession = z.infer<typeof BackupSession>;

export const BackupJob = z
  .object({
    id: z.string().min(1),
    name: z.string(),
    /** VMs added to the job (containers are not expanded by Get-VBRJobObject). */
    vms: z.array(VmName),
    isRunning: z.boolean(),
  })
  .strict();
export type BackupJob = z.infer<typeof BackupJob>;

/** Facts the module's doctor gathers on a host, so an operator sees what is missing. */
export const DoctorReport = z
  .object({
    endpoint: EndpointName,
    psEdition: z.string(),
    psVersion: z.string(),
    modules: z.array(z.object({ name: z.string(), loaded: z.boolean(), version: z.string().nullable() }).strict()),
    cmdlets: z.array(
      z.object({ name: z.string(), present: z.boolean(), missingParameters: z.array(z.string()) }).strict(),
    ),
    serverReachable: z.boolean(),
    problems: z.array(z.string()),
  })
  .strict();
export type DoctorReport = z.infer<typeof DoctorReport>;

/** How an endpoint connects; credentials are never part of this (they travel in the child's environment). */
export const ConnectArgs = z
  .object({ server: z.string().min(1), port: z.number().int().positive().optional() })
  .strict();

const vmArgs = z.object({ vm: VmName }).strict();

/**
 * Every operation, keyed by the PowerShell function name. `args` is what TypeScript sends
 * (base64 JSON), `result` the document the function prints on success.
 */
export const operations = {
  // Session set-up, run once per PowerShell process.
  'Connect-Endpoint': { endpoint: 'any', args: ConnectArgs, result: z.object({ connected: z.literal(true) }).strict() },
  'Get-Doctor': { endpoint: 'any', args: z.object({}).strict(), result: DoctorReport },

  // FVP
  'Get-VmCachePolicy': { endpoint: 'fvp', args: vmArgs, result: VmPolicy },
  'Set-VmWriteThrough': {
    endpoint: 'fvp',
    args: z.object({ vm: VmName, waitTimeSeconds: z.number().int().min(0).max(3600).optional() }).strict(),
    result: VmPolicy,
  },
  'Restore-VmCachePolicy': {
    endpoint: 'fvp',
    args: z.object({ vm: VmName, policy: RequestedPolicy }).strict(),
    result: VmPolicy,
  },
  'Get-VmFlushState': { endpoint: 'fvp', args: vmArgs, result: FlushState },
  'Get-ProxyVadp': { endpoint: 'fvp', args: vmArgs, result: z.object({ vm: VmName, vadp: z.boolean() }).strict() },
  'Set-ProxyVadp': { endpoint: 'fvp', args: vmArgs, result: z.object({ vm: VmName, vadp: z.literal(true) }).strict() },

  // Veeam
  'Get-BackupJob': { endpoint: 'veeam', args: z.object({ job: z.string().min(1) }).strict(), result: BackupJob },
  'Start-BackupJob': {
    endpoint: 'veeam',
    args: z
      .object({
        job: z.string().min(1),
        fullBackup: z.boolean(),
        retryBackup: z.boolean(),
      })
      .strict(),
    /** Start-VBRJob -RunAsync's return type is undocumented: the module finds the new session itself. */
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
    args: z.object({ job: z.string().min(1), since: z.string().min(1) }).strict(),
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
 */
export const ErrorCategory = z.enum(['transient', 'permanent', 'already-running', 'not-connected']);
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
