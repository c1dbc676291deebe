/**
 * The live progress display of a run (CLI `run`, `npm run demo`): phase, per-VM flush progress and
 * Veeam job progress. On a TTY the block is redrawn in place with plain ANSI escapes (no library:
 * the maintained ones, log-update and friends, are ESM-only and this project is CommonJS); anywhere
 * else (CI logs, pipes) it prints one line per change, with its time.
 */
import type { RunStatus, VmStatus } from '../workflows/status';

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const BAR_WIDTH = 20;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function between(from: string | null, to: string | null): number | null {
  if (!from || !to) return null;
  return Date.parse(to) - Date.parse(from);
}

export function bar(fraction: number): string {
  const clamped = Math.max(0, Math.min(1, fraction));
  const filled = Math.round(clamped * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(Math.round(clamped * 100)).padStart(3)}%`;
}

function vmDetail(vm: VmStatus): string {
  if (vm.step === 'planned') return '';
  if (!vm.accelerated) return 'not accelerated by FVP: left alone';
  const parts: string[] = [];
  if (vm.alreadyWriteThrough) parts.push('already write-through');
  if (vm.effective) parts.push(`effective ${vm.effective}`);
  if (vm.step === 'flushing' && vm.timeToDestageSeconds !== null) {
    parts.push(`destage ${vm.timeToDestageSeconds.toFixed(1)}s left`);
  }
  const flush = between(vm.writeThroughAt, vm.flushedAt);
  if (flush !== null) parts.push(`flushed in ${seconds(flush)}`);
  if (vm.restoredAt && vm.recorded) parts.push(`restored ${vm.recorded.mode}`);
  if (vm.restoreAttempts > 1) parts.push(`${vm.restoreAttempts} restore attempts`);
  if (vm.lastError) parts.push(`last error: ${vm.lastError}`);
  return parts.join(', ');
}

/** The block of lines that describes a run now. */
export function renderStatus(status: RunStatus, now: number = Date.now()): string[] {
  const end = status.endedAt ? Date.parse(status.endedAt) : now;
  const elapsed = Math.max(0, end - Date.parse(status.startedAt));
  const lines = [`${status.job}${status.dryRun ? ' (dry run)' : ''}  phase: ${status.phase}  ${seconds(elapsed)}`];
  const width = Math.max(6, ...status.vms.map((vm) => vm.vm.length));
  for (const vm of status.vms) {
    lines.push(`  ${vm.vm.padEnd(width)}  ${vm.step.padEnd(15)} ${vmDetail(vm)}`.trimEnd());
  }
  const { backup } = status;
  if (backup.sessionId || backup.state) {
    const done = backup.tasks.filter((t) => t.result !== 'None').length;
    // Veeam reports 0..100; before its first report, count finished tasks.
    const fraction = backup.progress !== null ? backup.progress / 100 : done / Math.max(1, backup.tasks.length);
    lines.push(
      `  ${'Veeam'.padEnd(width)}  ${(backup.state ?? '-').padEnd(15)} ${bar(fraction)}` +
        `  session ${backup.sessionId ?? '-'}${backup.result && backup.result !== 'None' ? `  result ${backup.result}` : ''}`,
    );
  }
  for (const warning of status.warnings) lines.push(`  warning: ${warning}`);
  if (status.error) lines.push(`  error: ${status.error}`);
  return lines;
}

/** One line per fact that changed between two statuses (for logs and pipes). */
export function describeChanges(previous: RunStatus | null, next: RunStatus): string[] {
  const changes: string[] = [];
  if (previous?.phase !== next.phase) changes.push(`phase ${next.phase}`);
  for (const vm of next.vms) {
    const before = previous?.vms.find((v) => v.vm === vm.vm);
    if (before?.step !== vm.step) {
      const detail = vmDetail(vm);
      changes.push(`${vm.vm}: ${vm.step}${detail ? ` (${detail})` : ''}`);
    }
  }
  const a = previous?.backup;
  const b = next.backup;
  if (b.sessionId && a?.sessionId !== b.sessionId) changes.push(`Veeam session ${b.sessionId}`);
  if (b.state && (a?.state !== b.state || a?.progress !== b.progress)) {
    changes.push(`Veeam ${b.state}${b.progress !== null ? ` ${Math.round(b.progress)}%` : ''}`);
  }
  if (b.result && b.result !== 'None' && a?.result !== b.result) changes.push(`Veeam result ${b.result}`);
  for (const warning of next.warnings.slice(previous?.warnings.length ?? 0)) changes.push(`warning: ${warning}`);
  if (next.error && previous?.error !== next.error) changes.push(`error: ${next.error}`);
  return changes;
}

export class ProgressDisplay {
  private drawn = 0;
  private last: RunStatus | null = null;
  private readonly tty: boolean;

  constructor(
    private readonly stream: ProgressStream,
    options: { tty?: boolean } = {},
  ) {
    this.tty = options.tty ?? Boolean(stream.isTTY);
  }

  update(status: RunStatus): void {
    if (this.tty) this.redraw(renderStatus(status));
    else {
      const time = new Date().toISOString().slice(11, 19);
      for (const line of describeChanges(this.last, status)) this.stream.write(`[${time}] ${line}\n`);
    }
    this.last = status;
  }

  private redraw(lines: string[]): void {
    const columns = Math.max(20, (this.stream.columns ?? 120) - 1);
    let out = this.drawn ? `\x1b[${this.drawn}F` : '';
    for (const line of lines) out += `\x1b[2K${line.length > columns ? `${line.slice(0, columns - 1)}…` : line}\n`;
    if (lines.length < this.drawn) out += '\x1b[J';
    this.stream.write(out);
    this.drawn = lines.length;
  }

  /** Leaves the last drawing on screen; later output starts below it. */
  finish(): void {
    this.drawn = 0;
  }
}
