/**
 * What the Temporal Web UI shows of a running protectedBackup: its "current details", a small
 * markdown block refreshed at every phase and step change (the UI renders it on the run's page),
 * and the values of the product's search attributes. Pure: the tracker publishes them.
 */
import type { RunStatus, VmStatus } from './status';

/**
 * A VM this run switched whose policy is not back yet (its guard or this run still owes it). A VM
 * gone from FVP or out of its cluster has nothing left to restore; a restore handed over is owed
 * by its guard alone (the guard's own FvpbRestorePending says so until it is back): a closed run
 * must not say "pending" forever after the guard restored it.
 */
export function owesRestore(vm: VmStatus): boolean {
  return (
    vm.writeThroughAt !== null &&
    !vm.alreadyWriteThrough &&
    !['restored', 'released', 'kept-change', 'gone', 'not-accelerated', 'restore-handed-over'].includes(vm.step)
  );
}

/** Table cells must not break the table: no pipes or line breaks from names and messages. */
function cell(text: string): string {
  return text.replace(/[|\r\n]+/g, ' ').slice(0, 200);
}

function flushLeft(vm: VmStatus): string {
  if (vm.step === 'flushed' || vm.flushedAt) return 'flushed';
  if (vm.timeToDestageSeconds === null) return '-';
  return `${vm.timeToDestageSeconds} s`;
}

function restoreText(vm: VmStatus): string {
  if (!vm.accelerated) return 'not accelerated';
  if (vm.alreadyWriteThrough) return 'was write-through: left alone';
  if (vm.step === 'restored') return 'restored';
  if (vm.step === 'released') return 'released to its guard';
  if (vm.step === 'kept-change') return `kept someone else's change`;
  if (vm.step === 'restore-failing') return `FAILING (${vm.restoreAttempts} attempts): ${vm.lastError ?? ''}`;
  if (vm.step === 'gone') return `GONE from FVP: not restored (${vm.lastError ?? ''})`;
  if (vm.step === 'not-accelerated') return `NO LONGER ACCELERATED: not restored (${vm.lastError ?? ''})`;
  if (vm.step === 'restore-handed-over')
    return `HANDED OVER to its guard, still write-through (${vm.restoreAttempts} attempts): ${vm.lastError ?? ''}`;
  return owesRestore(vm) ? 'pending' : '-';
}

export function runDetails(status: RunStatus): string {
  const lines = [`**${cell(status.job)}**: ${status.phase}${status.dryRun ? ' (dry run)' : ''}`, ''];
  if (status.vms.length > 0) {
    lines.push('| VM | step | flush left | restore |', '| --- | --- | --- | --- |');
    for (const vm of status.vms) {
      const step = vm.drift ? `${vm.step} (DRIFT: ${vm.drift})` : vm.step;
      lines.push(`| ${cell(vm.vm)} | ${cell(step)} | ${flushLeft(vm)} | ${cell(restoreText(vm))} |`);
    }
    lines.push('');
  }
  const b = status.backup;
  if (b.sessionId) {
    lines.push(`Veeam session ${cell(b.sessionId)}: ${b.state ?? '-'}, ${b.progress ?? 0}%, result ${b.result ?? '-'}`);
  }
  for (const warning of status.warnings.slice(-5)) lines.push(`- warning: ${cell(warning)}`);
  if (status.error) lines.push(`- error: ${cell(status.error)}`);
  return lines.join('\n');
}
