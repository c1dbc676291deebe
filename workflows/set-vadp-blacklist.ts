/**
 * The one-time HotAdd setup from the seed procedure: put each Veeam proxy VM on FVP's VADP
 * blacklist, so FVP destages a disk when the proxy hot-adds it. Idempotent: proxies already on
 * the list are left as they are.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { activityProxies } from './activity-proxies';
import { FailureType } from './failures';
import { ProtectedBackupInput, SetVadpBlacklistInput, type SetVadpBlacklistRequest } from './input';
import { describeZodError } from '../domain/zod-issues';

export interface VadpReport {
  proxies: { vm: string; before: boolean; after: boolean }[];
  dryRun: boolean;
}

export async function setVadpBlacklist(request: SetVadpBlacklistRequest): Promise<VadpReport> {
  const parsed = SetVadpBlacklistInput.safeParse(request);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `invalid setVadpBlacklist input: ${describeZodError(parsed.error)}`,
      FailureType.invalidInput,
    );
  }
  const { proxies, dryRun } = parsed.data;
  // The same step defaults a protected backup uses.
  const { forward } = activityProxies(ProtectedBackupInput.parse({ job: 'n/a' }).timeouts);
  const before = await forward.readVadpBlacklist({ proxies });
  const report: VadpReport = { proxies: [], dryRun };
  for (const { vm, vadp } of before) {
    const after = vadp || dryRun ? vadp : (await forward.setVadpBlacklist({ vm })).vadp;
    report.proxies.push({ vm, before: vadp, after });
  }
  return report;
}
