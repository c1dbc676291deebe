/**
 * What the lab's simulated hosts report for Get-Doctor, and the list of unconfirmed vendor facts
 * the lab simulates (see DOMAIN.md): one place to read what the lab assumes about the real world.
 */
import type { DoctorReport, EndpointName } from '../domain/endpoint';

export const SIMULATOR_NOTICE = 'this is the fvp-backup lab, a simulator: no real FVP, Veeam or PowerShell host';

/** Facts from community scripts, not vendor documentation, and how the lab models each one. */
export const UNCONFIRMED_FACTS: Record<'fvp' | 'veeam', string[]> = {
  fvp: [
    'unconfirmed: Set-PrnxAccelerationPolicy -WaitTimeSeconds semantics; the lab waits at most min(N s, waitTimeCapMs) and returns whether or not the cache destaged',
    'unconfirmed: Get-PrnxAccelerationPolicy -UUID <id> -Effective reports the effective policy; the lab reports it as Get-VmFlushState.effective',
    'unconfirmed: Get-PrnxObjectStats time_to_destage; the lab reports it as Get-VmFlushState.timeToDestageSeconds',
    'unconfirmed: -NumWBExternalPeers without fault domains fails; the lab answers a permanent error',
    'unconfirmed: Set-PrnxAccelerationPolicy -Vadp marks a proxy as a VADP appliance; the lab keeps a per-proxy flag',
  ],
  veeam: [
    'unconfirmed: Start-VBRJob -RunAsync return type; the lab module finds the new session itself',
    'unconfirmed: starting a running job fails; the lab answers category already-running',
  ],
};

const cmdlets: Record<EndpointName, string[]> = {
  fvp: [
    'Connect-PrnxServer',
    'Set-PrnxAccelerationPolicy',
    'Get-PrnxAccelerationPolicy',
    'Get-PrnxVM',
    'Get-PrnxObjectStats',
  ],
  veeam: [
    'Connect-VBRServer',
    'Get-VBRJob',
    'Get-VBRJobObject',
    'Start-VBRJob',
    'Stop-VBRJob',
    'Get-VBRBackupSession',
    'Get-VBRTaskSession',
  ],
};

export function doctorReport(endpoint: EndpointName, serverReachable: boolean): DoctorReport {
  const fvp = endpoint === 'fvp';
  return {
    endpoint,
    psEdition: fvp ? 'Desktop' : 'Core',
    psVersion: fvp ? '5.1.17763.0 (lab)' : '7.4.6 (lab)',
    modules: [
      fvp
        ? { name: 'prnxcli', loaded: true, version: '0.0.0-lab' }
        : { name: 'Veeam.Backup.PowerShell', loaded: true, version: '0.0.0-lab' },
    ],
    cmdlets: cmdlets[endpoint].map((name) => ({ name, present: true, missingParameters: [] })),
    serverReachable,
    problems: [
      SIMULATOR_NOTICE,
      ...(serverReachable ? [] : [fvp ? 'FVP Management Server unreachable' : 'Veeam Backup server unreachable']),
      ...UNCONFIRMED_FACTS[endpoint],
    ],
  };
}
