/**
 * CLI `guard status | reconcile | schedule`: the per-VM guards and their reconciler.
 *
 *   guard status    [--vm <name>] [--fvp-server <name>]       running guards and unrestored closed ones
 *   guard reconcile [--dry-run]                                 run the reconciler once, now
 *   guard schedule  [--every <duration>] [--dry-run] [--paused] [--schedule-id <id>]
 *                                                               create/update the reconciler's Schedule
 *
 * Each takes --json and the connection options. `guard status` exits 1 when a closed guard left a
 * VM in write-through (something for the reconciler to do), 0 otherwise; `guard reconcile` exits 1
 * when a guard did not answer.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { DurationInput } from '../../domain/duration';
import { ExitCode } from '../exit-codes';
import { formatGuardStatus } from '../guard/format';
import type { GuardStatus } from '../guard/status';
import { RECONCILER_SCHEDULE_ID } from '../ids';
import { ConnectionFlags, serverAction, type Cli, type CliIo, type CliState } from './context';

const StatusFlags = ConnectionFlags.extend({
  vm: z.string().min(1).optional(),
  fvpServer: z.string().min(1).optional(),
}).strict();
const ReconcileFlags = ConnectionFlags.extend({ dryRun: z.boolean().default(false) }).strict();
const ScheduleFlags = ConnectionFlags.extend({
  every: DurationInput.default('10 minutes'),
  dryRun: z.boolean().default(false),
  paused: z.boolean().optional(),
  scheduleId: z.string().min(1).default(RECONCILER_SCHEDULE_ID),
}).strict();

/** What `guard status` prints: the status itself as one JSON document with --json, else its lines. */
export function printGuardStatus(status: GuardStatus, sink: { json: boolean; write: (text: string) => unknown }): void {
  if (sink.json) sink.write(`${JSON.stringify(status, null, 2)}\n`);
  else for (const line of formatGuardStatus(status)) sink.write(`${line}\n`);
}

export function registerGuardCommands(program: Command, io: CliIo, state: CliState): void {
  const cli: Cli = { io, state };
  const guard = program
    .command('guard')
    .description('per-VM guards: who holds which VM, and the reconciler that restores what closed guards left');

  const status = guard
    .command('status')
    .description('running guards (phase, recorded policy, holders) and closed guards that left a VM in write-through')
    .option('--vm <name>', 'only this VM')
    .option('--fvp-server <name>', 'only guards of this FVP management server');
  serverAction(cli, status, StatusFlags, async ({ flags, out, conn: { client } }) => {
    const { readGuardStatus } = await import('../guard/status.js');
    const result = await readGuardStatus(client, { vm: flags.vm, fvpServer: flags.fvpServer });
    printGuardStatus(result, { json: out.json, write: (text) => out.io.stdout.write(text) });
    return result.unrestored.length > 0 ? ExitCode.failure : ExitCode.success;
  });

  const reconcile = guard
    .command('reconcile')
    .description('run the reconciler now: restore the recorded policy of VMs closed guards left in write-through')
    .option('--dry-run', 'only report what would be restored');
  serverAction(cli, reconcile, ReconcileFlags, async ({ flags, out, conn: { client, taskQueue } }) => {
    const { formatReconcileReport, runReconciler } = await import('../guard/reconcile.js');
    const report = await runReconciler(client, { taskQueue, dryRun: flags.dryRun });
    out.document(report);
    out.lines(formatReconcileReport(report));
    return report.entries.some((e) => e.outcome === 'no-answer') ? ExitCode.failure : ExitCode.success;
  });

  const schedule = guard
    .command('schedule')
    .description("create or update the reconciler's Temporal Schedule (overlap SKIP)")
    .option('--every <duration>', "how often, e.g. '10 minutes'", '10 minutes')
    .option('--dry-run', 'scheduled runs only report')
    .option('--paused', 'create (or leave) it paused')
    .option('--schedule-id <id>', 'schedule id', RECONCILER_SCHEDULE_ID);
  serverAction(cli, schedule, ScheduleFlags, async ({ flags, out, conn: { client, taskQueue } }) => {
    const { syncReconcilerSchedule } = await import('../guard/reconciler-schedule.js');
    const result = await syncReconcilerSchedule(client, {
      taskQueue,
      every: flags.every,
      dryRun: flags.dryRun,
      paused: flags.paused,
      scheduleId: flags.scheduleId,
    });
    out.document(result);
    out.line(
      `${result.created ? 'created' : 'updated'} schedule ${result.scheduleId}: every ${String(result.every)}${result.dryRun ? ', dry run' : ''}`,
    );
  });
}
