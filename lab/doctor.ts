/**
 * What the lab's simulated hosts report for Get-Doctor (raw, as the module does: the worker judges
 * it), and the list of unconfirmed vendor facts the lab simulates: one place to read what the lab
 * assumes about the real world.
 */
import type { EndpointName } from '../domain/endpoint';
import type { RawCall, RawDoctor } from '../activities/powershell/operations';
import { CMDLETS } from '../activities/vendor/facts';
import type { OpError } from './model/errors';
import { rawJobObjects } from './model/inventory';
import { rawServer, rawVm } from './model/raw';
import type { LabState } from './model/state';

export const SIMULATOR_NOTICE = 'this is the fvp-backup lab, a simulator: no real FVP, Veeam or PowerShell host';

/** Facts from community scripts, not vendor documentation, and how the lab models each one. */
export const UNCONFIRMED_FACTS: Record<'fvp' | 'veeam', string[]> = {
  fvp: [
    'unconfirmed: Set-PrnxAccelerationPolicy -WaitTimeSeconds semantics; the lab waits at most min(N s, waitTimeCapMs) and returns whether or not the cache destaged',
    'unconfirmed: Get-PrnxAccelerationPolicy -UUID <id> [-Effective] writes WRITE_BACK/WRITE_THROUGH (text or an object with Policy, by vendor profile); without -Effective the requested policy',
    'unconfirmed: Get-PrnxObjectStats time_to_destage in seconds; from FVP 3.1 only with -StartTime 0 (by vendor profile)',
    'unconfirmed: -NumWBExternalPeers without fault domains fails; Standard reads numWbExternalPeers as 0; the lab answers a permanent error',
    'unconfirmed: Set-PrnxProperty <vm> -Name cachePolicy -Value 1 blacklists a proxy (3 adds back), read back as Get-PrnxVM cachePolicy',
    'unconfirmed: flashCluster empty means not accelerated; effectivePolicy codes other than 7',
    'unconfirmed: Set-PrnxAccelerationPolicy -Name matching; the lab matches exactly, or as a wildcard pattern (scenario fvp.nameParameter), and writes every VM it matches (same-name VMs of two flash clusters included)',
    'unconfirmed: a VM renamed in vCenter keeps its Get-PrnxVM uuid (F5: the vSphere instance UUID), flash cluster and policy; the lab renames nothing else on the FVP side',
  ],
  veeam: [
    'unconfirmed: Start-VBRJob -RunAsync return type; the lab module finds the new session itself',
    'unconfirmed: starting a running job fails; the lab answers category already-running',
    'unconfirmed: per-job session lookups ($job.FindLastSession() before v13, Get-VBRBackupSession -Job from v13) are cheap; the lab charges full scans of its history',
    'unconfirmed: after a vCenter rename, Get-VBRJobObject keeps the old Name (and the same Object.ObjectId) until a later job pass, which the lab never makes; sessions name the task by the new name',
    "unconfirmed: Get-VBRJobObject returns containers unexpanded (Object.ViType, Object.ObjectId); Find-VBRViEntity -<view> lists each container by Reference with its VMs under its Path (lab/model/inventory.ts); the job schedule (IsScheduleEnabled) is the scenario job's scheduleEnabled (default off), and true means Veeam may start the job on its own",
  ],
};

/** The raw probes the module's Get-Doctor runs, answered from the lab's state in its vendor profile. */
export function doctorObservations(
  endpoint: EndpointName,
  state: LabState,
  t: number,
  down: OpError | null = null,
): RawDoctor['observations'] {
  const profile = state.scenario.vendor;
  const failed = (error: OpError): RawCall => ({
    ok: false,
    type: error.raw.exceptions[0]?.type ?? 'Error',
    message: error.message,
  });
  const host = {
    probe: 'host',
    subject: null,
    result: {
      ok: true,
      values: [
        {
          '@type': 'System.Management.Automation.Internal.Host.InternalHost',
          Name: 'ConsoleHost (lab)',
          Version: '5.1',
        },
      ],
    },
  };
  if (down !== null) {
    const ping = endpoint === 'fvp' ? 'Get-PrnxObject -Type PrnxMServer' : 'Get-VBRServerSession';
    return [host, { probe: ping, subject: null, result: failed(down) }];
  }
  if (endpoint === 'veeam') {
    const lookup = profile.veeam === '13' ? 'JobParameter' : 'FindLastSession';
    const job = state.veeam.jobs[0]?.name ?? null;
    return [
      host,
      {
        probe: 'Get-VBRServerSession',
        subject: null,
        result: {
          ok: true,
          values: [{ '@type': 'Veeam.Backup.PowerShell.Infos.VBRServerSession', Server: state.veeam.server }],
        },
      },
      {
        probe: 'Get-Module Veeam.Backup.PowerShell',
        subject: null,
        result: {
          ok: true,
          values: [
            {
              '@type': 'System.Management.Automation.PSModuleInfo',
              Name: 'Veeam.Backup.PowerShell',
              Version: profile.veeam === '13' ? '13.0.1.1071' : '12.3.1.1139',
            },
          ],
        },
      },
      {
        probe: `session lookup ${lookup}`,
        subject: job,
        result: { ok: true, values: [{ '@type': 'TimeSpan', TotalMilliseconds: 12 }] },
      },
      // Per job, as the module's Get-Doctor: its schedule flag and its objects ("name [kind, ViType]").
      ...state.veeam.jobs.map((j) => ({
        probe: 'job schedule and objects',
        subject: j.name,
        result: {
          ok: true,
          values: [
            {
              '@type': 'System.Management.Automation.PSCustomObject',
              IsScheduleEnabled: j.scheduleEnabled ?? false,
              Objects: rawJobObjects(j)
                .map((o) => `${String(o.Name)} [${String(o.Type)}, ${String(o['Object.ViType'])}]`)
                .join('; '),
            },
          ],
        },
      })),
    ];
  }
  const vm = state.fvp.vms.find((v) => v.accelerated);
  const observations: RawDoctor['observations'] = [
    host,
    { probe: 'Get-PrnxObject -Type PrnxMServer', subject: null, result: { ok: true, values: [rawServer(profile)] } },
    {
      probe: '(Get-Command Set-PrnxProperty).Parameters.Keys',
      subject: null,
      result: { ok: true, values: ['Name', 'Value', 'ErrorAction'] },
    },
  ];
  if (vm !== undefined) {
    const plain = rawVm(vm, t, profile, null);
    const started = rawVm(vm, t, profile, 0);
    observations.push(
      { probe: 'Get-PrnxVM (first accelerated)', subject: vm.name, result: { ok: true, values: [plain.vm] } },
      { probe: 'Get-PrnxAccelerationPolicy -UUID', subject: vm.name, result: plain.requested },
      { probe: 'Get-PrnxAccelerationPolicy -UUID -Effective', subject: vm.name, result: plain.effective },
      { probe: 'Get-PrnxObjectStats -NumberOfSamples 1', subject: vm.name, result: plain.stats },
      { probe: 'Get-PrnxObjectStats -StartTime 0 -NumberOfSamples 1', subject: vm.name, result: started.stats },
    );
  }
  return observations;
}

/** Get-Doctor's raw answer on a lab host: every cmdlet asked about present with the parameters the table lists. */
export function rawDoctor(
  endpoint: EndpointName,
  commands: string[],
  observations: RawDoctor['observations'],
): RawDoctor {
  const fvp = endpoint === 'fvp';
  return {
    endpoint,
    psEdition: fvp ? 'Desktop' : 'Core',
    psVersion: fvp ? '5.1.17763.0 (lab)' : '7.4.6 (lab)',
    connected: true,
    module: {
      ok: true,
      values: [
        {
          '@type': 'System.Management.Automation.PSModuleInfo',
          Name: fvp ? 'prnxcli' : 'Veeam.Backup.PowerShell',
          Version: '0.0.0-lab',
        },
      ],
    },
    commands: commands.map((name) => ({
      name,
      parameters: Object.entries(CMDLETS[name]?.parameters ?? {})
        .filter(([, p]) => p.probeOnly !== true)
        .map(([p]) => p)
        .concat(['ErrorAction']),
    })),
    observations,
    notes: [SIMULATOR_NOTICE, ...UNCONFIRMED_FACTS[endpoint]],
  };
}
