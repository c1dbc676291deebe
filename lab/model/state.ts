/**
 * The lab's persisted state: everything the simulation needs to answer a request, as plain JSON.
 * Time-dependent facts (effective policy, time to destage, session state) are not stored: they are
 * computed from the timestamps below whenever they are asked for, so the state stays valid while
 * the lab process is down. Credential values are never stored, only a salted hash to check against.
 */
import { z } from 'zod';
import { EndpointName } from '../../domain/endpoint';
import { RequestedPolicy } from '../../domain/policy';
import { JobOutcome, Scenario, ScenarioJobObject, TransportMode, VmTask } from '../scenario';
import { FaultRuleState } from './faults';

export const PolicySource = z.enum(['scenario', 'Set-VmWriteThrough', 'Restore-VmCachePolicy', 'admin']);
export type PolicySource = z.infer<typeof PolicySource>;

/** One change of a VM's requested policy (the first one is the scenario's). */
export const PolicyEvent = z
  .object({ at: z.number(), requested: RequestedPolicy, source: PolicySource, pid: z.number().int().nullable() })
  .strict();
export type PolicyEvent = z.infer<typeof PolicyEvent>;

export const VmState = z
  .object({
    name: z.string(),
    uuid: z.string(),
    /**
     * Its vSphere object id (moref), which a rename keeps and Veeam's job objects refer to it by
     * (absent: derived from the name, lab/model/inventory.ts vmMoref; set when the VM is renamed).
     */
    moref: z.string().optional(),
    /** Its FVP flash cluster while accelerated (absent: lab/model/raw.ts FLASH_CLUSTER). */
    flashCluster: z.string().min(1).optional(),
    accelerated: z.boolean(),
    hostHasFlash: z.boolean(),
    writeIntervalMs: z.number().int().min(0),
    destageMs: z.number().int().min(0),
    /** Guest writes happen at writeAnchor + k * writeIntervalMs for k >= 1. */
    writeAnchor: z.number().int(),
    /** Requested-policy changes, oldest first, never empty; the last one is the current policy. */
    history: z.array(PolicyEvent).min(1),
  })
  .strict();
export type VmState = z.infer<typeof VmState>;

export const ProxyState = z.object({ name: z.string(), uuid: z.string(), vadpSince: z.number().nullable() }).strict();
export type ProxyState = z.infer<typeof ProxyState>;

export const SessionLookups = z
  .object({
    calls: z.record(z.string(), z.number().int().min(0)).default({}),
    rowsRead: z.number().int().min(0).default(0),
    fullScans: z.number().int().min(0).default(0),
  })
  .strict();
export type SessionLookups = z.infer<typeof SessionLookups>;

export const JobState = z
  .object({
    id: z.string(),
    name: z.string(),
    /** The VMs its sessions process (containers expanded, exclusions applied: lab/model/inventory.ts). */
    vms: z.array(z.string()),
    /** Containers and exclusions as the scenario added them (absent in states saved before). */
    objects: z.array(ScenarioJobObject).optional(),
    startDelayMs: z.number().int().min(0),
    taskMs: z.number().int().min(0),
    /** Absent in states saved before task slots: one task at a time, each `taskMs`, the job's outcome. */
    taskSlots: z.number().int().min(1).optional(),
    vmTasks: z.record(z.string(), VmTask).optional(),
    stopDelayMs: z.number().int().min(0),
    outcome: JobOutcome,
    transportMode: TransportMode,
    proxies: z.array(z.string()),
    /** IsScheduleEnabled (absent in states saved before: off). */
    scheduleEnabled: z.boolean().optional(),
  })
  .strict();
export type JobState = z.infer<typeof JobState>;

/** A Veeam session: its progress is a function of these fields and the clock. */
export const SessionRecord = z
  .object({
    id: z.string(),
    jobId: z.string(),
    jobName: z.string(),
    vms: z.array(z.string()),
    createdAt: z.number().int(),
    startDelayMs: z.number().int().min(0),
    taskMs: z.number().int().min(0),
    /** The job's task slots and per-VM tasks when the session started (absent: 1 slot, uniform tasks). */
    taskSlots: z.number().int().min(1).optional(),
    vmTasks: z.record(z.string(), VmTask).optional(),
    stopDelayMs: z.number().int().min(0),
    outcome: JobOutcome,
    transportMode: TransportMode,
    proxies: z.array(z.string()),
    fullBackup: z.boolean(),
    retryBackup: z.boolean(),
    stopRequestedAt: z.number().int().nullable(),
    /** Lookups see the session only from createdAt + appearDelayMs (the job's sessionAppearDelayMs). */
    appearDelayMs: z.number().int().min(0).default(0),
    /** How many of its tasks already have a verdict (judged in job order: tasks start in that order). */
    judged: z.number().int().min(0),
  })
  .strict();
export type SessionRecord = z.infer<typeof SessionRecord>;

export const Verdict = z
  .object({
    sessionId: z.string(),
    job: z.string(),
    vm: z.string(),
    snapshotAt: z.number().int(),
    consistent: z.boolean(),
    reason: z.string(),
    requestedModeAtSnapshot: z.enum(['WriteBack', 'WriteThrough']).nullable(),
    effectiveModeAtSnapshot: z.enum(['WriteBack', 'WriteThrough']).nullable(),
    /** Guest writes acknowledged before the snapshot that had not reached the array. */
    unflushedWrites: z.number().int().min(0),
    /** When Veeam stopped reading the VM (its task's end, or the session's if stopped mid-task). */
    readUntil: z.number().int().optional(),
    /** When the VM, write-through at its snapshot, was given write-back while Veeam still read it; else null. */
    writeBackWhileReadAt: z.number().int().nullable().optional(),
    transportMode: TransportMode,
  })
  .strict();
export type Verdict = z.infer<typeof Verdict>;

export const CredentialHash = z.object({ user: z.string(), salt: z.string(), hash: z.string() }).strict();
export type CredentialHash = z.infer<typeof CredentialHash>;

export const Connection = z
  .object({
    endpoint: EndpointName,
    pid: z.number().int(),
    server: z.string(),
    port: z.number().int().nullable(),
    at: z.number().int(),
  })
  .strict();
export type Connection = z.infer<typeof Connection>;

export const LabState = z
  .object({
    version: z.literal(1),
    loadedAt: z.number().int(),
    /** The scenario as loaded, with `credentials: {}` (their hashes are in `credentials`); POST /reset reloads it. */
    scenario: Scenario,
    credentials: z.object({ fvp: CredentialHash.nullable(), veeam: CredentialHash.nullable() }).strict(),
    requireConnect: z.boolean(),
    fvp: z
      .object({
        server: z.string(),
        managementServerUp: z.boolean(),
        faultDomains: z.boolean(),
        waitTimeCapMs: z.number().int().min(0),
        vms: z.array(VmState),
        proxies: z.array(ProxyState),
      })
      .strict(),
    veeam: z
      .object({
        server: z.string(),
        serverUp: z.boolean(),
        jobs: z.array(JobState),
        sessions: z.array(SessionRecord),
        /**
         * What session lookups cost (issue 11 finding 1): calls per lookup and session rows read. A
         * full scan (the unfiltered Get-VBRBackupSession) reads the whole history: the scenario's
         * historySessions plus the lab's own sessions.
         */
        lookups: SessionLookups.prefault({}),
      })
      .strict(),
    verdicts: z.array(Verdict),
    faults: z.object({ seed: z.number().int(), prng: z.number().int(), rules: z.array(FaultRuleState) }).strict(),
    connections: z.array(Connection),
    counters: z
      .object({
        invocations: z.number().int().min(0),
        nextSeq: z.number().int().min(1),
        byOp: z.record(z.string(), z.number().int().min(0)),
        pids: z.object({ fvp: z.array(z.number().int()), veeam: z.array(z.number().int()) }).strict(),
      })
      .strict(),
  })
  .strict();
export type LabState = z.infer<typeof LabState>;

/** Bounds that keep the state file small during long benchmarks. */
export const LIMITS = {
  historyPerVm: 500,
  verdicts: 50_000,
  sessions: 5_000,
  connections: 2_000,
  pids: 10_000,
  invocations: 10_000,
} as const;

/** Appends and drops the oldest entries beyond `max` (in place). */
export function pushBounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}
