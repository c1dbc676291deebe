/**
 * The report of a run as an operator reads it at the end of `run`, `status` and the demo: per VM
 * the write-through window, the flush time and the restore result; the Veeam session and result.
 */
import type { RunStatus, VmStatus } from '../workflows/status';
import type { RunOutcome } from './runs';

function ms(from: string | null, to: string | null): string {
  if (!from || !to) return '-';
  return `${((Date.parse(to) - Date.parse(from)) / 1000).toFixed(1)}s`;
}

function restoreResult(vm: VmStatus): string {
  if (!vm.accelerated) return 'not accelerated, untouched';
  if (vm.alreadyWriteThrough) return 'was write-through, left alone';
  if (vm.step === 'restored') return `restored ${describePolicy(vm)}`;
  if (vm.step === 'restore-failing') return `RESTORE FAILING (${vm.restoreAttempts} attempts): ${vm.lastError ?? ''}`;
  if (vm.step === 'gone') return `GONE FROM FVP, not restored: ${vm.lastError ?? ''}`;
  if (vm.step === 'not-accelerated') return `NO LONGER ACCELERATED, not restored: ${vm.lastError ?? ''}`;
  if (vm.step === 'restore-handed-over') {
    return `RESTORE HANDED OVER to ${vm.guardId ?? 'its guard'}, still write-through (${vm.restoreAttempts} attempts): ${vm.lastError ?? ''}`;
  }
  if (!vm.writeThroughAt) return 'never switched';
  return vm.step;
}

function describePolicy(vm: VmStatus): string {
  const p = vm.recorded;
  if (!p) return '';
  if (p.mode === 'WriteThrough') return 'WriteThrough';
  return `WriteBack, ${p.peers} peer(s)${p.externalPeers !== null ? `, ${p.externalPeers} external` : ''}`;
}

export function formatReport(report: RunStatus): string[] {
  const lines = [
    `Report for job ${JSON.stringify(report.job)}${report.dryRun ? ' (dry run: nothing was changed)' : ''}`,
    `  phase ${report.phase}, started ${report.startedAt}, ended ${report.endedAt ?? '-'} (${ms(report.startedAt, report.endedAt)})`,
  ];
  if (report.vms.length) {
    const width = Math.max(2, ...report.vms.map((v) => v.vm.length));
    lines.push(`  ${'VM'.padEnd(width)}  write-through  flush    restore`);
    for (const vm of report.vms) {
      const window = ms(vm.writeThroughAt, vm.restoredAt);
      const flush = ms(vm.writeThroughAt, vm.flushedAt);
      lines.push(`  ${vm.vm.padEnd(width)}  ${window.padEnd(13)}  ${flush.padEnd(7)}  ${restoreResult(vm)}`);
    }
  }
  const b = report.backup;
  lines.push(
    b.sessionId
      ? `  Veeam session ${b.sessionId}: ${b.state ?? '-'}, result ${b.result ?? '-'}${
          b.tasks.length ? ` (${b.tasks.map((t) => `${t.vm} ${t.result}`).join(', ')})` : ''
        }`
      : '  Veeam: no session was started',
  );
  for (const step of report.plan) lines.push(`  plan: ${step}`);
  for (const warning of report.warnings) lines.push(`  warning: ${warning}`);
  if (report.error) lines.push(`  error: ${report.error}`);
  return lines;
}

const HEADLINE: Record<RunOutcome['kind'], string> = {
  success: 'completed',
  warning: 'completed with warnings',
  failed: 'FAILED',
  cancelled: 'cancelled',
  terminated: 'TERMINATED',
  'timed-out': 'TIMED OUT',
};

export function formatOutcome(outcome: RunOutcome): string[] {
  const lines = [
    `Run ${outcome.workflowId} (run ${outcome.runId}) ${HEADLINE[outcome.kind]}` +
      (outcome.kind !== 'success' && outcome.kind !== 'warning' && outcome.message
        ? `: ${outcome.failureType ? `${outcome.failureType}: ` : ''}${outcome.message}`
        : ''),
  ];
  if (outcome.report) lines.push(...formatReport(outcome.report));
  return lines;
}
