/**
 * The scenario a lab runs: the FVP cluster, the Veeam server and the knobs of the simulation.
 * `POST /scenario` takes `z.input<typeof Scenario>` (every field with a default may be omitted) and
 * replaces the whole lab state with it. All durations are milliseconds of wall-clock time.
 */
import { z } from 'zod';
import { VendorProfile } from './model/profile';
import { RequestedPolicy, VmName } from '../domain/policy';

/** The flash cluster of a VM whose scenario names none (lab/model/raw.ts). */
export const FLASH_CLUSTER = 'FVP-Cluster-01';

const Ms = z.number().int().min(0).max(86_400_000);

export const Credential = z.object({ user: z.string().min(1), password: z.string() }).strict();
export type Credential = z.infer<typeof Credential>;

export const ScenarioVm = z
  .object({
    name: VmName,
    /** Stable id FVP keys policies by; generated from the name (and flash cluster) when omitted. */
    uuid: z.string().min(1).optional(),
    /**
     * Its FVP flash cluster (default FVP-Cluster-01). A VM may share its name with a VM of another
     * flash cluster (issue 10 item 4: vCenter names are unique per folder only): reads by name then
     * find both, reads by uuid one. Not per cluster: the lab's Veeam job names a VM, and means the
     * first VM of that name.
     */
    flashCluster: z.string().min(1).max(200).optional(),
    /** In an FVP cluster (accelerated) or not. */
    accelerated: z.boolean().default(true),
    /** A host without flash forces effective write-through whatever the requested policy says. */
    hostHasFlash: z.boolean().default(true),
    requested: RequestedPolicy.default({ mode: 'WriteBack', peers: 1, externalPeers: null }),
    /** The guest writes once every `writeIntervalMs` from the moment the scenario loads; 0 = idle VM. */
    writeIntervalMs: Ms.default(0),
    /** In write-back, a write acknowledged at t reaches the array at t + destageMs. */
    destageMs: Ms.default(0),
  })
  .strict();
export type ScenarioVm = z.infer<typeof ScenarioVm>;

export const ScenarioProxy = z
  .object({
    name: VmName,
    uuid: z.string().min(1).optional(),
    /** Already marked as a VADP appliance (Set-PrnxAccelerationPolicy -Vadp). */
    vadp: z.boolean().default(false),
  })
  .strict();
export type ScenarioProxy = z.infer<typeof ScenarioProxy>;

export const TransportMode = z.enum(['DirectSan', 'HotAdd', 'Nbd']);
export type TransportMode = z.infer<typeof TransportMode>;

export const JobOutcome = z.enum(['Success', 'Warning', 'Failed']);
export type JobOutcome = z.infer<typeof JobOutcome>;

export const VmTask = z
  .object({
    taskMs: Ms.optional(),
    /** A Failed task makes the session's result Failed; a Warning one makes a Success session Warning. */
    outcome: JobOutcome.optional(),
  })
  .strict();
export type VmTask = z.infer<typeof VmTask>;

/**
 * An object added to a Veeam job besides its `vms` (issue 10 item 1): a container (its vSphere type
 * as Veeam's Object.ViType writes it: Folder, Tag, Datastore, ResourcePool, StoragePod...) with the
 * VMs under it, or an exclusion (`exclude`: a container, or one VM with type VirtualMachine).
 */
export const ScenarioJobObject = z
  .object({
    type: z.string().min(1).max(64),
    name: VmName,
    vms: z.array(VmName).default([]),
    exclude: z.boolean().default(false),
  })
  .strict();
export type ScenarioJobObject = z.infer<typeof ScenarioJobObject>;

export const ScenarioJob = z
  .object({
    name: z.string().min(1),
    /** Veeam job id (a GUID); generated when omitted. */
    id: z.string().min(1).optional(),
    /** VMs in the job, in task order. Names unknown to FVP are backed up as non-accelerated VMs. */
    vms: z.array(VmName).default([]),
    /**
     * Containers and exclusions (Get-BackupJob returns them unexpanded, Get-ViEntities lists the
     * inventory): sessions process `vms`, then the VMs of each included container, less the excluded.
     */
    objects: z.array(ScenarioJobObject).default([]),
    /** Time a session spends in state Starting before its first task. */
    startDelayMs: Ms.default(200),
    /** Time of one VM's task (unless `vmTasks` says otherwise); each task snapshots its VM when it starts. */
    taskMs: Ms.default(500),
    /**
     * Veeam's concurrent task slots (proxies process several VMs at once): each VM's task starts, in
     * job order, as soon as a slot is free. 1 (the default) runs the tasks one after the other.
     */
    taskSlots: z.number().int().min(1).max(64).default(1),
    /** Per VM of the job: its own task time, and the result its task ends with (default: `outcome`). */
    vmTasks: z.record(VmName, VmTask).default({}),
    /** Time a session spends in Stopping after Stop-BackupJob. */
    stopDelayMs: Ms.default(100),
    /**
     * A new session becomes visible to Find-BackupSession and Get-BackupSession only this long after
     * the start (a busy VBR server): "started, but no session to be seen yet". The job reads as
     * running (IsRunning) from the start, and the session runs on its own clock meanwhile.
     */
    sessionAppearDelayMs: Ms.default(0),
    /** Result of a session that runs to its end (at least as bad as its worst task's). */
    outcome: JobOutcome.default('Success'),
    /** HotAdd additionally requires every proxy of the job to be VADP-blacklisted for a consistent verdict. */
    transportMode: TransportMode.default('DirectSan'),
    proxies: z.array(VmName).default([]),
    /** Veeam's own schedule is enabled (Get-BackupJob's IsScheduleEnabled): a run the worker starts warns. */
    scheduleEnabled: z.boolean().default(false),
  })
  .strict();
export type ScenarioJob = z.infer<typeof ScenarioJob>;

export const Scenario = z
  .object({
    fvp: z
      .object({
        server: z.string().min(1).default('fvp-mgmt.lab.invalid'),
        managementServerUp: z.boolean().default(true),
        /** Fault domains (Enterprise licence): without them a policy with externalPeers != null fails. */
        faultDomains: z.boolean().default(false),
        /**
         * How Set-PrnxAccelerationPolicy -Name matches VM names: `literal` (exactly, the default), or
         * `wildcard` (as a PowerShell wildcard pattern: `web[1]` selects `web1`, lab/model/wildcard.ts).
         * Which one prnxcli does is unknown (review-reliability.md finding 9).
         */
        nameParameter: z.enum(['literal', 'wildcard']).default('literal'),
        /** -WaitTimeSeconds waits at most min(waitTimeSeconds * 1000, waitTimeCapMs), done or not. */
        waitTimeCapMs: Ms.default(100),
        /**
         * What a call costs the FVP management server, which serves one call at a time (issue 12):
         * callMs per call, and a Get-PrnxVM listing listingPerVmMs more per VM. Zero (the default): free.
         */
        managementCost: z
          .object({ callMs: Ms.default(0), listingPerVmMs: z.number().min(0).max(10_000).default(0) })
          .strict()
          .prefault({}),
        vms: z.array(ScenarioVm).default([]),
        proxies: z.array(ScenarioProxy).default([]),
      })
      .strict()
      .prefault({}),
    veeam: z
      .object({
        server: z.string().min(1).default('veeam.lab.invalid'),
        serverUp: z.boolean().default(true),
        /** Sessions of the server's history (other jobs, years of runs): what a full scan reads. */
        historySessions: z.number().int().min(0).max(10_000_000).default(0),
        jobs: z.array(ScenarioJob).default([]),
      })
      .strict()
      .prefault({}),
    /** Which variant of raw vendor output the lab speaks (lab/model/profile.ts); default: the most common. */
    vendor: VendorProfile.prefault({}),
    /** Expected credentials per endpoint; Connect-Endpoint checks them. Absent = any (or none) accepted. */
    credentials: z.object({ fvp: Credential.optional(), veeam: Credential.optional() }).strict().default({}),
    /** Ops other than Connect-Endpoint/Get-Doctor fail `not-connected` from a host process that never connected. */
    requireConnect: z.boolean().default(true),
    /** Seed of the PRNG behind fault-rule probabilities. */
    seed: z.number().int().default(1),
  })
  .strict()
  .superRefine((s, ctx) => {
    const dup = (names: string[], path: (string | number)[], what: string): void => {
      const seen = new Set<string>();
      names.forEach((name, i) => {
        if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [...path, i, 'name'], message: `duplicate ${what}` });
        seen.add(name);
      });
    };
    dup(
      s.fvp.vms.map((v) => `${v.flashCluster ?? FLASH_CLUSTER}\0${v.name}`),
      ['fvp', 'vms'],
      'VM name in its flash cluster',
    );
    dup(
      s.fvp.proxies.map((p) => p.name),
      ['fvp', 'proxies'],
      'proxy name',
    );
    dup(
      s.veeam.jobs.map((j) => j.name),
      ['veeam', 'jobs'],
      'job name',
    );
    if (s.fvp.faultDomains && s.vendor.fvpLicence === 'Standard') {
      ctx.addIssue({
        code: 'custom',
        path: ['fvp', 'faultDomains'],
        message: 'fault domains need the Enterprise licence (vendor.fvpLicence is Standard)',
      });
    }
    s.fvp.vms.forEach((vm, i) => {
      if (vm.requested.externalPeers !== null && !s.fvp.faultDomains) {
        ctx.addIssue({
          code: 'custom',
          path: ['fvp', 'vms', i, 'requested', 'externalPeers'],
          message: 'externalPeers must be null on a cluster without fault domains (fvp.faultDomains is false)',
        });
      }
    });
  });
export type Scenario = z.infer<typeof Scenario>;
export type ScenarioInput = z.input<typeof Scenario>;

export interface DefaultScenarioOptions {
  /** Destage lag of every VM (default 400 ms). */
  destageMs?: number;
  /** Guest write interval of every VM (default 25 ms). */
  writeIntervalMs?: number;
  /** Per-VM task time of the job (default 600 ms). */
  taskMs?: number;
  /** Starting phase of a session (default 200 ms). */
  startDelayMs?: number;
  /** -WaitTimeSeconds cap (default 100 ms, well below the destage lag). */
  waitTimeCapMs?: number;
}

/**
 * The demo's lab: three write-back VMs ("sql-01", "app-01", "web-01", one peer each) with busy
 * guests, all in job "Nightly-SQL" (about two seconds), one proxy not yet VADP-blacklisted.
 */
export function defaultScenario(options: DefaultScenarioOptions = {}): Scenario {
  const destageMs = options.destageMs ?? 400;
  const writeIntervalMs = options.writeIntervalMs ?? 25;
  const vm = (name: string, destageFactor: number): ScenarioVm => ({
    name,
    accelerated: true,
    hostHasFlash: true,
    requested: { mode: 'WriteBack', peers: 1, externalPeers: null },
    writeIntervalMs,
    destageMs: Math.round(destageMs * destageFactor),
  });
  return Scenario.parse({
    fvp: {
      managementServerUp: true,
      faultDomains: false,
      waitTimeCapMs: options.waitTimeCapMs ?? 100,
      vms: [vm('sql-01', 1), vm('app-01', 0.75), vm('web-01', 0.5)],
      proxies: [{ name: 'veeam-proxy-01', vadp: false }],
    },
    veeam: {
      jobs: [
        {
          name: 'Nightly-SQL',
          vms: ['sql-01', 'app-01', 'web-01'],
          startDelayMs: options.startDelayMs ?? 200,
          taskMs: options.taskMs ?? 600,
          stopDelayMs: 100,
          outcome: 'Success',
          transportMode: 'DirectSan',
          proxies: ['veeam-proxy-01'],
        },
      ],
    },
    seed: 1,
  });
}
