/**
 * CLI `schedule create | list | delete | pause | unpause | trigger | sync`.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import type { ScheduleDescription } from '@temporalio/client';
import { dstWarnings, type DstWarning } from '../schedules/dst';
import { ownershipOf } from '../schedules/ownership';
import { buildRequest, RequestFlagsShape } from './runs';
import { ConnectionFlags, repeatable, serverAction, type Cli, type CliIo, type CliState, type Output } from './context';

const IdArg = z.string().min(1, 'expected a schedule id');

function fileManagedWarning(description: ScheduleDescription, out: Output): void {
  const o = ownershipOf(description.memo);
  if (o?.source === 'file') {
    out.note(
      `note: ${description.scheduleId} is managed by a schedule file (owner ${o.owner}): the next sync puts it back as declared`,
    );
  }
}

/** On stderr, in text and --json mode alike (the JSON document carries them too). */
function printWarnings(warnings: DstWarning[], out: Output): void {
  for (const w of warnings) out.note(`warning: ${w.message}`);
}

/** The schedule library, loaded when a command runs (see serverAction). */
const manage = () => import('../schedules/manage.js');

export function registerScheduleCommands(program: Command, io: CliIo, state: CliState): void {
  const cli: Cli = { io, state };
  const schedule = program
    .command('schedule')
    .description('backup schedules (Temporal Schedules), one by one or as code');

  const CreateFlags = ConnectionFlags.extend({
    ...RequestFlagsShape,
    id: z.string().min(1, 'expected a schedule id'),
    cron: z.array(z.string()).min(1, 'expected at least one cron expression'),
    timezone: z.string().optional(),
    jitter: z.string().optional(),
    overlap: z.string().optional(),
    catchupWindow: z.string().optional(),
    paused: z.boolean().default(false),
  }).strict();
  const create = schedule
    .command('create')
    .description('create one schedule (not managed by any file: sync leaves it alone)')
    .requiredOption('--id <id>', 'schedule id')
    .requiredOption('--cron <expression>', 'cron expression, 5 fields (repeatable)', repeatable)
    .option('--timezone <zone>', 'IANA time zone (default UTC)')
    .option('--jitter <duration>', "random delay of each action, e.g. '5 minutes'")
    .option('--overlap <policy>', 'SKIP (default), BUFFER_ONE or CANCEL_OTHER')
    .option('--catchup-window <duration>', 'how late a missed action may still start')
    .option('--paused', 'create it paused')
    .option('--job <name>', 'the Veeam job to run')
    .option('--vm <name>', 'a VM to protect besides those of the job (repeatable)', repeatable)
    .option('--input <file>', 'the rest of the input as JSON or YAML');
  serverAction(cli, create, CreateFlags, {
    prepare: async (flags, command) => {
      const { job, vms, ...input } = buildRequest({ ...flags, attach: false }, command);
      const { parseScheduleEntry } = await manage();
      return parseScheduleEntry({
        id: flags.id,
        job,
        vms,
        spec: { cron: flags.cron },
        timezone: flags.timezone,
        jitter: flags.jitter,
        overlap: flags.overlap as never,
        catchupWindow: flags.catchupWindow,
        paused: flags.paused,
        input,
      });
    },
    run: async ({ flags, out, conn: { client, taskQueue } }, definition) => {
      const { createSchedule } = await manage();
      await createSchedule(client, definition, taskQueue);
      const { id, job } = definition;
      const warnings = dstWarnings([definition]);
      out.line(`Created schedule ${id} (job ${job}) on task queue ${taskQueue}${flags.paused ? ', paused' : ''}`);
      printWarnings(warnings, out);
      out.document({ id, job, taskQueue, created: true, warnings });
    },
  });

  const list = schedule.command('list').description('the schedules that start protected backups');
  serverAction(cli, list, ConnectionFlags.strict(), async ({ out, conn: { client } }) => {
    const { listSchedules } = await manage();
    const rows = await listSchedules(client);
    out.document({ schedules: rows });
    if (!rows.length) out.line('no schedules');
    for (const r of rows) {
      out.line(`${r.id}  job ${r.job ?? '?'}  ${r.paused ? 'PAUSED' : 'active'}  ${r.spec}  [${r.managedBy}]`);
      if (r.nextActionTimes.length) out.line(`    next: ${r.nextActionTimes.join(', ')}`);
      for (const a of r.recentActions) out.line(`    ran:  ${a.scheduledAt} ${a.workflowId}`);
    }
  });

  const simple = (
    name: string,
    description: string,
    act: 'deleteSchedule' | 'pauseSchedule' | 'unpauseSchedule',
    done: string,
    withNote = false,
  ) => {
    const command = schedule.command(name).description(description).argument('<schedule-id>', 'schedule id');
    if (withNote) command.option('--note <text>', 'why (shown in the Web UI)');
    const Flags = ConnectionFlags.extend({ '<schedule-id>': IdArg, note: z.string().min(1).optional() }).strict();
    serverAction(cli, command, Flags, async ({ flags, out, conn: { client } }) => {
      const description = await (await manage())[act](client, flags['<schedule-id>'], flags.note);
      fileManagedWarning(description, out);
      out.line(`${done} ${flags['<schedule-id>']}`);
      out.document({ id: flags['<schedule-id>'], action: name, done: true });
    });
  };
  simple('delete', 'delete a schedule (its running backup, if any, goes on)', 'deleteSchedule', 'Deleted');
  simple('pause', 'pause a schedule', 'pauseSchedule', 'Paused', true);
  simple('unpause', 'unpause a schedule', 'unpauseSchedule', 'Unpaused', true);

  // A trigger the overlap policy drops exits 5 (TriggerDroppedError) instead of 0: nothing started.
  const trigger = schedule
    .command('trigger')
    .description("take the schedule's action now (its overlap policy applies; exit 5 when it drops it)")
    .argument('<schedule-id>', 'schedule id');
  const TriggerFlags = ConnectionFlags.extend({ '<schedule-id>': IdArg }).strict();
  serverAction(cli, trigger, TriggerFlags, async ({ flags, out, conn: { client } }) => {
    const id = flags['<schedule-id>'];
    const { triggerSchedule } = await manage();
    const { description, workflowId, waitingFor } = await triggerSchedule(client, id);
    fileManagedWarning(description, out);
    out.line(`Triggered ${id}`);
    if (workflowId) out.line(`  started ${workflowId}`);
    else out.line(`  buffered (overlap policy BUFFER_ONE): starts when ${waitingFor.join(', ')} closes`);
    out.document({ id, action: 'trigger', done: true, started: workflowId, waitingFor });
  });

  const SyncFlags = ConnectionFlags.extend({ file: z.string().min(1), dryRun: z.boolean().default(false) }).strict();
  const sync = schedule
    .command('sync')
    .description('make the schedules a file owns match the file: create, update, delete; print the difference')
    .requiredOption('--file <path>', 'the schedule file (YAML)')
    .option('--dry-run', 'only print the difference');
  serverAction(cli, sync, SyncFlags, {
    prepare: async (flags) => (await manage()).readScheduleFile(flags.file),
    run: async ({ flags, out, conn: { client, taskQueue } }, set) => {
      const { formatSync, syncSchedules } = await import('../schedules/sync.js');
      const result = await syncSchedules(client, set, { taskQueue, dryRun: flags.dryRun });
      out.lines(formatSync(result));
      printWarnings(result.warnings, out);
      out.document(result);
    },
  });
}
