/**
 * The one-time HotAdd setup from the seed procedure: put each Veeam proxy VM on FVP's VADP
 * blacklist, so FVP destages a disk when the proxy hot-adds it. Idempotent: proxies already on
 * the list are left as they are.
 */
import { stepProxies } from './activity-proxies';
import { SetVadpBlacklistInput, type SetVadpBlacklistRequest } from './input';
import { parseWorkflowInput } from './parse-input';
import { defaultGuardTimeouts } from './step-timeouts';

export interface VadpReport {
  proxies: { vm: string; before: boolean; after: boolean }[];
  dryRun: boolean;
}

export async function setVadpBlacklist(request: SetVadpBlacklistRequest): Promise<VadpReport> {
  const { proxies, dryRun } = parseWorkflowInput(SetVadpBlacklistInput, request, 'setVadpBlacklist');
  // The same step defaults a protected backup uses.
  const { fvp: forward } = stepProxies(defaultGuardTimeouts());
  const before = await forward.readVadpBlacklist({ proxies });
  const report: VadpReport = { proxies: [], dryRun };
  for (const { vm, vadp } of before) {
    const after = vadp || dryRun ? vadp : (await forward.setVadpBlacklist({ vm })).vadp;
    report.proxies.push({ vm, before: vadp, after });
  }
  return report;
}
