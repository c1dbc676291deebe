/**
 * CLI commands about runs: run (start and follow with live progress), start, status, cancel, list.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { TransportMode, VeeamRelease, type ProtectedBackupRequest } from '../../workflows/input';
import { exitCodeFor } from '../exit-codes';
import { workflowIdFor } from '../ids';
import { ProgressDisplay, renderStatus } from '../progress';
import { formatOutcome } from '../report';
import { validateRequest } from '../request';
import type { RunOutcome, startProtectedBackup } from '../runs';
import {
  choice,
  ConnectionFlags,
  repeatable,
  serverAction,
  UsageError,
  type Cli,
  type CliIo,
  type CliState,
} from './context';

/** The flags that make up a protectedBackup input (shared with `schedule create`). */
export const RequestFlagsShape = {
  job: z.string().min(1, 'expected the name of a Veeam job').optional(),
  vm: z.array(z.string().min(1, 'expected a VM name')).optional(),
  transportMode: TransportMode.optional(),
  hotAddProxy: z.array(z.string().min(1, 'expected a proxy VM name')).optional(),
  fullBackup: z.boolean().optional(),
  release: VeeamRelease.optional(),
  dryRun: z.boolean().optional(),
  input: z.string().min(1).optional(),
};

const RequestFlags = ConnectionFlags.extend({
  ...RequestFlagsShape,
  workflowId: z.string().min(1).max(1000).optional(),
  attach: z.boolean().default(false),
}).strict();
type RequestFlags = z.infer<typeof RequestFlags>;

function addRequestOptions(command: Command): Command {
  return command
    .option('--job <name>', 'the Veeam job to run')
    .option('--vm <name>', 'a VM to protect besides those of the job (repeatable)', repeatable)
    .addOption(choice('--transport-mode <mode>', 'Veeam transport mode', TransportMode.options))
    .option('--hot-add-proxy <vm>', 'a HotAdd proxy VM whose VADP blacklist is checked (repeatable)', repeatable)
    .option('--full-backup', 'run an active full backup')
    .addOption(
      choice(
        '--release <when>',
        "when each VM gets write-back back: as soon as its Veeam task is done, or at the session's end",
        VeeamRelease.options,
      ),
    )
    .option('--dry-run', 'plan and report only: change nothing, start nothing')
    .option('--input <file>', 'the whole input as JSON or YAML (as pasted in the Web UI); flags override it')
    .option('--workflow-id <id>', 'workflow id (default protected-backup/<job>)')
    .option('--attach', 'if a run of the job is already open, follow it instead of refusing');
}

function readInputFile(path: string, command: Command): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--input: cannot read ${path}: ${(err as Error).message}`, command);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new UsageError(`--input: ${path} is neither JSON nor YAML: ${(err as Error).message}`, command);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(`--input: ${path} must hold one object (the protectedBackup input)`, command);
  }
  return value as Record<string, unknown>;
}

/** The request from --input and the flags; validated with the workflow's schema (throws InvalidInputError). */
export function buildRequest(flags: Partial<RequestFlags>, command: Command): ProtectedBackupRequest {
  const request: Record<string, unknown> = flags.input ? readInputFile(flags.input, command) : {};
  if (flags.job !== undefined) request.job = flags.job;
  if (flags.vm !== undefined) request.vms = flags.vm;
  if (flags.transportMode !== undefined) request.transportMode = flags.transportMode;
  if (flags.hotAddProxy !== undefined) request.hotAddProxies = flags.hotAddProxy;
  if (flags.dryRun !== undefined) request.dryRun = flags.dryRun;
  if (flags.fullBackup !== undefined) {
    const veeam = typeof request.veeam === 'object' && request.veeam !== null ? request.veeam : {};
    request.veeam = { ...veeam, fullBackup: flags.fullBackup };
  }
  if (flags.release !== undefined) {
    const veeam = typeof request.veeam === 'object' && request.veeam !== null ? request.veeam : {};
    request.veeam = { ...veeam, release: flags.release };
  }
  if (request.job === undefined)
    throw new UsageError('--job: expected the name of a Veeam job (or an --input file with "job")', command);
  validateRequest(request);
  return request as ProtectedBackupRequest;
}

function outcomeDocument(outcome: RunOutcome) {
  return { ...outcome, exitCode: exitCodeFor(outcome.kind) };
}

const IdArgs = ConnectionFlags.extend({
  '<workflow-id>': z.string().min(1).optional(),
  job: z.string().min(1).optional(),
  runId: z.string().min(1).optional(),
})
  .strict()
  .refine((v) => (v['<workflow-id>'] === undefined) !== (v.job === undefined), {
    message: 'expected a workflow id or --job <name>, not both',
    path: ['<workflow-id>'],
  });

function targetId(args: z.infer<typeof IdArgs>): string {
  return args['<workflow-id>'] ?? workflowIdFor(args.job as string);
}

/** The client library, loaded when a command runs (see serverAction). */
const library = () => import('../runs.js');

/** `run` and `start` start the same way: the flags' workflow id, and attach or refuse when one is open. */
async function startFromFlags(
  client: Parameters<typeof startProtectedBackup>[0],
  taskQueue: string,
  request: Parameters<typeof startProtectedBackup>[1],
  flags: { workflowId?: string; attach?: boolean },
  command: 'run' | 'start',
) {
  const { startProtectedBackup } = await library();
  return startProtectedBackup(client, request, {
    taskQueue,
    workflowId: flags.workflowId,
    ifRunning: flags.attach ? 'attach' : 'fail',
    via: `the CLI (\`${command}\`)`,
  });
}

export function registerRunCommands(program: Command, io: CliIo, state: CliState): void {
  const cli: Cli = { io, state };
  const run = addRequestOptions(
    program.command('run').description('start a protected backup and follow it to its report (exit code: see README)'),
  );
  serverAction(cli, run, RequestFlags, {
    prepare: (flags, command) => buildRequest(flags, command),
    run: async ({ flags, out, conn: { client, taskQueue } }, request) => {
      const started = await startFromFlags(client, taskQueue, request, flags, 'run');
      out.line(
        `${started.attached ? 'Attached to' : 'Started'} ${started.workflowId} (run ${started.runId}) on task queue ${taskQueue}`,
      );
      const display = flags.json ? null : new ProgressDisplay(io.stdout);
      const { followRun } = await library();
      const outcome = await followRun(started.handle, (status) => display?.update(status));
      display?.finish();
      out.line();
      out.lines(formatOutcome(outcome));
      out.document({ attached: started.attached, ...outcomeDocument(outcome) });
      return exitCodeFor(outcome.kind);
    },
  });

  const start = addRequestOptions(program.command('start').description('start a protected backup and print its id'));
  serverAction(cli, start, RequestFlags, {
    prepare: (flags, command) => buildRequest(flags, command),
    run: async ({ flags, out, conn: { client, taskQueue } }, request) => {
      const started = await startFromFlags(client, taskQueue, request, flags, 'start');
      out.line(`${started.attached ? 'Already running' : 'Started'}: ${started.workflowId} (run ${started.runId})`);
      out.document({
        workflowId: started.workflowId,
        runId: started.runId,
        job: started.job,
        attached: started.attached,
      });
    },
  });

  const status = program
    .command('status')
    .description('what a run is doing, or how it ended')
    .argument('[workflow-id]', 'workflow id (or use --job)')
    .option('--job <name>', 'the run of this job started with the default id (protected-backup/<job>)')
    .option('--run-id <id>', 'a particular run of that workflow id');
  serverAction(cli, status, IdArgs, async ({ flags, out, conn: { client } }) => {
    const { readRun } = await library();
    const info = await readRun(client, targetId(flags), flags.runId);
    out.document(info);
    out.line(
      `${info.workflowId} (run ${info.runId}) ${info.executionStatus.toLowerCase()}, started ${info.startTime}` +
        (info.closeTime ? `, closed ${info.closeTime}` : ''),
    );
    if (info.outcome) out.lines(formatOutcome(info.outcome));
    else if (info.status) out.lines(renderStatus(info.status));
    else out.line('  (no status yet: is a worker polling the task queue?)');
  });

  const cancel = program
    .command('cancel')
    .description('cancel a run: the Veeam job is stopped (per input) and every VM restored before it closes')
    .argument('[workflow-id]', 'workflow id (or use --job)')
    .option('--job <name>', 'the run of this job started with the default id')
    .option('--run-id <id>', 'a particular run of that workflow id')
    .option('--wait', 'wait until the run has closed and print its report');
  const CancelArgs = IdArgs.and(z.object({ wait: z.boolean().default(false) }));
  serverAction(cli, cancel, CancelArgs, async ({ flags, out, conn: { client } }) => {
    const workflowId = targetId(flags);
    const { cancelProtectedBackup, waitForOutcome } = await library();
    await cancelProtectedBackup(client, workflowId, flags.runId);
    out.line(`Cancellation requested for ${workflowId}`);
    if (!flags.wait) {
      out.document({ workflowId, cancelRequested: true });
      return;
    }
    const outcome = await waitForOutcome(client.workflow.getHandle(workflowId, flags.runId));
    out.lines(formatOutcome(outcome));
    out.document({ cancelRequested: true, ...outcomeDocument(outcome) });
    return exitCodeFor(outcome.kind);
  });

  const ListFlags = ConnectionFlags.extend({
    job: z.string().min(1).optional(),
    vm: z.string().min(1, 'expected a VM name').optional(),
    restorePending: z.boolean().default(false),
    limit: z.coerce.number().int().min(1).max(1000).default(20),
    running: z.boolean().default(false),
  }).strict();
  const list = program
    .command('list')
    .description('recent protectedBackup runs, newest first (filters are search attributes, see README)')
    .option('--job <name>', 'only runs of this job (FvpbJob)')
    .option('--vm <name>', 'only runs that protect this VM (FvpbVms)')
    .option('--restore-pending', 'only runs that still owe a VM its caching policy (FvpbRestorePending)')
    .option('--limit <n>', 'how many (default 20)')
    .option('--running', 'only open runs');
  serverAction(cli, list, ListFlags, async ({ flags, out, conn: { client } }) => {
    const options = {
      job: flags.job,
      vm: flags.vm,
      restorePending: flags.restorePending,
      limit: flags.limit,
      running: flags.running,
    };
    const { listProtectedBackups, listQuery } = await library();
    const runs = await listProtectedBackups(client, options);
    out.document({ query: listQuery(options), runs });
    if (!runs.length) out.line('no runs');
    for (const r of runs) {
      const pending = r.restorePending ? '  RESTORE PENDING' : '';
      const vms = r.vms.length ? `  [${r.vms.join(', ')}]` : '';
      out.line(
        `${r.status.toLowerCase().padEnd(10)} ${r.startTime}  ${(r.closeTime ?? '-').padEnd(24)}  ${r.job ?? '?'}  ${r.workflowId}` +
          `${r.phase ? `  ${r.phase}` : ''}${vms}${pending}`,
      );
    }
  });
}
