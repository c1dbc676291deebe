/**
 * The lines `guard status` prints (client/guard/status.ts reads the status). Apart from the reading
 * so that the CLI's start loads no Temporal client until a command runs (see serverAction in client/cli/context.ts).
 */
import type { GuardState } from '../../domain/guard-protocol';
import type { GuardStatus } from './status';

function policyText(policy: GuardState['recorded']): string {
  if (!policy) return 'none';
  return policy.mode === 'WriteThrough'
    ? 'WriteThrough'
    : `WriteBack (${policy.peers} peer(s)${policy.externalPeers !== null ? `, ${policy.externalPeers} external` : ''})`;
}

export function formatGuardStatus(status: GuardStatus): string[] {
  const lines: string[] = [];
  if (status.running.length === 0) lines.push('no running guard');
  for (const g of status.running) {
    const s = g.state;
    if (!s) {
      lines.push(`${g.guardId}: state unavailable (${g.error ?? 'no answer'})`);
      continue;
    }
    const wt = s.writeThrough
      ? 'write-through by the guard'
      : s.alreadyWriteThrough
        ? 'already write-through'
        : 'untouched';
    lines.push(`${s.vm} [${s.fvpServer}]: ${s.phase}, ${wt}, recorded ${policyText(s.recorded)}`);
    for (const holder of s.holders) {
      lines.push(
        `  holder ${holder.workflowId} (job ${holder.job}, since ${holder.since}, ${holder.granted ? 'granted' : 'waiting'})`,
      );
    }
    for (const job of s.abandonedJobs) lines.push(`  waiting for job ${job} of a run that closed mid-backup`);
    if (s.lastError) lines.push(`  last error: ${s.lastError}`);
  }
  if (status.unrestored.length > 0) {
    lines.push('', 'closed guards that left their VM in write-through (the reconciler restores them):');
    for (const u of status.unrestored) {
      lines.push(`  ${u.vm} [${u.fvpServer}]: ${u.status} at ${u.closedAt ?? '?'}, recorded ${policyText(u.recorded)}`);
      // A successor that could not see this run (visibility lag) runs without its record.
      if (u.successor)
        lines.push(`    its successor ${u.successor.runId} runs without this record (the reconciler sends it)`);
    }
  }
  return lines;
}
