/**
 * What the real cmdlets would write for a VM of the lab, projected as the module projects it
 * (operations.ts RawFvpVm), in the shapes of the scenario's vendor profile. The lab's FVP read
 * operations answer with these; activities/vendor/interpret.ts reads them.
 */
import type { RawCall, RawFvpVm, RawObject, RawSession, RawValue } from '../../activities/powershell/operations';
import type { BackupSession } from '../../domain/veeam';
import type { CacheMode } from '../../domain/policy';
import { effectiveAt, requestedEventAt, timeToDestageMs } from './fvp';
import { statsNeedStartTime, type VendorProfile } from './profile';
import type { ProxyState, VmState } from './state';
import { FLASH_CLUSTER, type ScenarioJobObject } from '../scenario';
import { rawJobObjects } from './inventory';

export { FLASH_CLUSTER };

const TEXT: Record<CacheMode, string> = { WriteBack: 'WRITE_BACK', WriteThrough: 'WRITE_THROUGH' };

function policyOutput(profile: VendorProfile, mode: CacheMode): RawValue {
  if (profile.policyOutput === 'text') return TEXT[mode];
  return { '@type': 'PernixData.Prnx.Cmdlets.AccelerationPolicy', Policy: TEXT[mode] };
}

export function rawServer(profile: VendorProfile): RawObject {
  return {
    '@type': 'PernixData.Prnx.PrnxMServer',
    buildinfo: profile.fvpBuild,
    licensedFeatures:
      profile.fvpLicence === 'Enterprise'
        ? 'FVP_FEATURE_BASE,FVP_FEATURE_WRITE_BACK,FVP_FEATURE_FAULT_DOMAIN,FVP_FEATURE_RAM'
        : 'FVP_FEATURE_BASE,FVP_FEATURE_WRITE_BACK',
  };
}

const notInCluster = (vm: VmState): RawCall => ({
  ok: false,
  type: 'PernixData.Prnx.PrnxException',
  message: `Virtual machine '${vm.name}' is not part of a flash cluster`,
});

/** The raw answer for one VM at t; `stats` undefined: not asked, else the -StartTime passed (null: none). */
export function rawVm(vm: VmState, t: number, profile: VendorProfile, stats?: number | null): RawFvpVm {
  const requested = requestedEventAt(vm, t).requested;
  const effective = effectiveAt(vm, t);
  const properties: RawObject = {
    '@type': 'PernixData.Prnx.PrnxVM',
    Name: vm.name,
    uuid: vm.uuid,
    powerState: 'poweredOn',
    effectivePolicy: effective === 'WriteBack' ? '7' : '3',
    numWbPeers: requested.mode === 'WriteBack' ? requested.peers : 0,
    // Standard has no fault domains and reads 0 (the case that broke restores); Enterprise the value.
    numWbExternalPeers: profile.fvpLicence === 'Standard' ? 0 : requested.externalPeers,
    flashCluster: vm.accelerated ? (vm.flashCluster ?? FLASH_CLUSTER) : null,
  };
  let statsCall: RawCall | null = null;
  if (stats !== undefined) {
    const newer = statsNeedStartTime(profile);
    if (stats !== null && !newer) {
      statsCall = {
        ok: false,
        type: 'System.Management.Automation.ParameterBindingException',
        message: "A parameter cannot be found that matches parameter name 'StartTime'.",
      };
    } else if (newer && stats === null) {
      statsCall = { ok: true, values: [] };
    } else {
      const sample = { '@type': 'PernixData.Prnx.ObjectStats', time_to_destage: timeToDestageMs(vm, t) / 1000 };
      statsCall = { ok: true, values: [sample] };
    }
  }
  return {
    vm: properties,
    requested: vm.accelerated ? { ok: true, values: [policyOutput(profile, requested.mode)] } : notInCluster(vm),
    effective: vm.accelerated ? { ok: true, values: [policyOutput(profile, effective)] } : notInCluster(vm),
    stats: statsCall,
  };
}

/**
 * A proxy VM as Get-PrnxVM shows it: cachePolicy 1 while VADP-blacklisted (Set-PrnxProperty
 * -Name cachePolicy -Value 1), 3 otherwise (the value prnx_blacklist.ps1 writes to add it back).
 */
export function rawProxy(proxy: ProxyState, profile: VendorProfile): RawFvpVm {
  const wt = { ok: true as const, values: [policyOutput(profile, 'WriteThrough')] };
  return {
    vm: {
      '@type': 'PernixData.Prnx.PrnxVM',
      Name: proxy.name,
      uuid: proxy.uuid,
      powerState: 'poweredOn',
      effectivePolicy: '3',
      numWbPeers: 0,
      numWbExternalPeers: profile.fvpLicence === 'Standard' ? 0 : null,
      flashCluster: FLASH_CLUSTER,
      cachePolicy: proxy.vadpSince === null ? 3 : 1,
    },
    requested: wt,
    effective: wt,
    stats: null,
  };
}

const SESSION_TYPE = 'Veeam.Backup.Core.CBackupSession';
/** What a running session's EndTime reads (Veeam's "no time" placeholder, 1900-01-01). */
export const NO_END_TIME = '1900-01-01T00:00:00.0000000Z';

/**
 * Progress as the profile's Veeam writes it: VBR 12 an object whose Percents the module projects
 * ('Progress.Percents', the object itself as its text), VBR 13 a plain number.
 */
function progress(profile: VendorProfile, percent: number): RawObject {
  if (profile.veeam === '13') return { Progress: percent };
  return { Progress: 'Veeam.Backup.Core.CBackupSessionProgress', 'Progress.Percents': percent };
}

/** A session as the module projects Get-VBRBackupSession's object (no tasks). */
export function rawSessionObject(doc: BackupSession, profile: VendorProfile): RawObject {
  return {
    '@type': SESSION_TYPE,
    Id: doc.id,
    JobId: doc.jobId,
    JobName: doc.jobName,
    State: doc.state,
    Result: doc.result,
    ...progress(profile, doc.progress),
    CreationTime: doc.creationTime,
    EndTime: doc.endTime ?? NO_END_TIME,
  };
}

/** A session with its Get-VBRTaskSession objects. */
export function rawSession(doc: BackupSession, profile: VendorProfile): RawSession {
  return {
    session: rawSessionObject(doc, profile),
    tasks: doc.tasks.map((task) => ({
      '@type': 'Veeam.Backup.Core.CBackupTaskSession',
      Name: task.vm,
      Status: task.status,
      ...progress(profile, task.progress),
    })),
  };
}

/** Get-BackupJob's raw answer: the CBackupJob (Id, Name, IsRunning) and its Get-VBRJobObject entries. */
export function rawJob(
  job: {
    id: string;
    name: string;
    vms: string[];
    objects?: ScenarioJobObject[] | undefined;
    scheduleEnabled?: boolean | undefined;
  },
  isRunning: boolean,
) {
  return {
    job: {
      '@type': 'Veeam.Backup.Core.CBackupJob',
      Id: job.id,
      Name: job.name,
      IsRunning: isRunning,
      IsScheduleEnabled: job.scheduleEnabled ?? false,
    },
    // Added VMs, containers and exclusions, unexpanded (lab/model/inventory.ts).
    objects: rawJobObjects(job),
  };
}
