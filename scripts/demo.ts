/**
 * The demo (`npm run demo`, through scripts/demo.mjs): the Temporal dev server with its Web UI
 * (SQLite in the data dir), the lab with its default scenario (VMs sql-01, app-01, web-01 in job
 * "Nightly-SQL", in write-back), and a worker process; then one protected backup of the job,
 * followed with the CLI's progress display, its report and the lab's verdicts. Everything stays up
 * for a look at the Web UI (and more runs started there) until Ctrl-C, or exits with the run's
 * exit code with --exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdirSync, openSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { z } from 'zod';
import { startLab, type RunningLab } from '../lab/launch';
import { connect, operatorIdentity, type BackupConnection } from '../client/connection';
import { exitCodeFor, ExitCode } from '../client/exit-codes';
import { ProgressDisplay } from '../client/progress';
import { formatOutcome } from '../client/report';
import { followRun, startProtectedBackup } from '../client/runs';
import { devServerSearchAttributeArgs, registerSearchAttributes } from '../client/search-attributes';
import { DEFAULT_TASK_QUEUE } from '../domain/task-queue';
import type { ProtectedBackupRequest } from '../workflows/input';

const root = resolve(__dirname, '..');
const JOB = 'Nightly-SQL';
const VMS = ['sql-01', 'app-01', 'web-01'];

const Port = z.coerce.number().int().min(1).max(65535);
const Options = z
  .object({ port: Port, uiPort: Port, dataDir: z.string().min(1), exit: z.boolean().default(false) })
  .strict()
  .refine((o) => o.port !== o.uiPort, { message: 'expected another port than --port', path: ['uiPort'] });
type Options = z.infer<typeof Options>;

function parseOptions(argv: string[]): Options {
  const program = new Command()
    .name('npm run demo --')
    .option('--port <port>', 'Temporal frontend port', '7233')
    .option('--ui-port <port>', 'Web UI port', '8233')
    .option('--data-dir <dir>', 'SQLite database and logs', join(root, '.data'))
    .option('--exit', 'exit when the run ends (exit code as the CLI run command)')
    .exitOverride()
    .allowExcessArguments(false);
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    process.exit(err instanceof CommanderError && err.code === 'commander.helpDisplayed' ? 0 : ExitCode.usage);
  }
  const parsed = Options.safeParse(program.opts());
  if (!parsed.success) {
    const flag = (key: PropertyKey) => `--${String(key).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    console.error(
      `demo: ${parsed.error.issues.map((i) => `${flag(i.path[0] ?? 'options')}: ${i.message}`).join('; ')}`,
    );
    console.error(`Usage: ${program.name()} ${program.usage()}`);
    process.exit(ExitCode.usage);
  }
  return parsed.data;
}

function portInUse(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error(`${what} did not come up within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopProcess(child: ChildProcess | undefined, graceMs = 10_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

class Demo {
  private server?: ChildProcess;
  private worker?: ChildProcess;
  private lab?: RunningLab;
  private conn?: BackupConnection;
  private stopping?: Promise<void>;
  private readonly dataDir: string;
  private readonly address: string;
  private readonly ui: string;

  constructor(private readonly options: Options) {
    this.dataDir = resolve(options.dataDir);
    this.address = `127.0.0.1:${options.port}`;
    this.ui = `http://localhost:${options.uiPort}`;
  }

  /** Idempotent: stops what was started, the worker first (it may still restore a VM). */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.conn?.close().catch(() => undefined);
      await stopProcess(this.worker);
      await this.lab?.stop();
      await stopProcess(this.server);
    })();
    return this.stopping;
  }

  async start(): Promise<void> {
    for (const port of [this.options.port, this.options.uiPort]) {
      if (await portInUse(port)) {
        throw new Error(
          `port ${port} is in use (is \`npm run server\` or another demo running?); pass --port / --ui-port`,
        );
      }
    }
    mkdirSync(this.dataDir, { recursive: true });
    console.log(`Starting the Temporal dev server on ${this.address} (Web UI ${this.ui}, data in ${this.dataDir})...`);
    const serverLog = openSync(join(this.dataDir, 'temporal.log'), 'a');
    this.server = spawn(
      join(root, '.tools', 'bin', 'temporal'),
      [
        'server',
        'start-dev',
        '--ip',
        '127.0.0.1',
        '--port',
        String(this.options.port),
        '--ui-port',
        String(this.options.uiPort),
        '--db-filename',
        join(this.dataDir, 'temporal.db'),
        '--log-level',
        'warn',
        // The product's search attributes, registered when the database is created...
        ...devServerSearchAttributeArgs(),
      ],
      { stdio: ['ignore', serverLog, serverLog] },
    );
    this.server.once('exit', (code) => {
      if (!this.stopping) console.error(`demo: the dev server exited (code ${code}); see ${this.dataDir}/temporal.log`);
    });

    console.log('Starting the lab (a simulator of FVP, Veeam and PowerShell; default scenario)...');
    this.lab = await startLab();
    await waitUntil('the dev server', () => portInUse(this.options.port), 30_000);
    await waitUntil('the Web UI', () => portInUse(this.options.uiPort), 30_000);
    this.conn = await connect({
      address: this.address,
      namespace: 'default',
      taskQueue: DEFAULT_TASK_QUEUE,
      env: {},
      identity: operatorIdentity('fvpb-demo'),
    });
    // ...and for a data dir from before they existed (the flags do nothing to an existing database).
    await registerSearchAttributes(this.conn.connection, 'default');
    await this.startWorker(this.lab.url);
  }

  private async startWorker(labUrl: string): Promise<void> {
    const log = join(this.dataDir, 'worker.log');
    console.log(`Starting a worker on task queue ${DEFAULT_TASK_QUEUE} (logs in ${log})...`);
    const fakePowerShell = join(root, 'lab', 'bin', 'fake-powershell');
    const worker = spawn(process.execPath, ['--import', 'tsx', join(root, 'worker', 'main.ts')], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TEMPORAL_ADDRESS: this.address,
        TEMPORAL_TASK_QUEUE: DEFAULT_TASK_QUEUE,
        FVPB_FVP_EXECUTABLE: fakePowerShell,
        FVPB_FVP_SERVER: 'fvp-mgmt.lab.invalid',
        FVPB_VEEAM_EXECUTABLE: fakePowerShell,
        FVPB_VEEAM_SERVER: 'vbr.lab.invalid',
        FVPB_LAB_URL: labUrl,
        FVPB_SHUTDOWN_GRACE: '1 second',
        LOG_LEVEL: 'info',
      },
    });
    this.worker = worker;
    await new Promise<void>((done, fail) => {
      let seen = '';
      worker.stderr?.on('data', (chunk: Buffer) => {
        const text = chunk.toString();
        appendFileSync(log, text);
        seen = (seen + text).slice(-10_000);
        if (seen.includes('"msg":"worker started"')) done();
      });
      worker.once('exit', (code) => fail(new Error(`the worker exited (code ${code}):\n${seen.slice(-2_000)}`)));
    });
  }

  /** One protected backup of the sample job, shown live; its report and the lab's verdicts. */
  async backup(): Promise<number> {
    const { client } = this.conn as BackupConnection;
    const request: ProtectedBackupRequest = {
      job: JOB,
      vms: VMS,
      // Quicker polls than the production defaults: the lab's VMs destage in well under a second.
      flush: { deadline: '2 minutes', pollInterval: '250ms', concurrency: 8 },
      veeam: { pollInterval: '500ms' },
    };
    const run = await startProtectedBackup(client, request, {
      taskQueue: DEFAULT_TASK_QUEUE,
      ifRunning: 'attach',
      via: '`npm run demo`',
    });
    const link = `${this.ui}/namespaces/default/workflows/${encodeURIComponent(run.workflowId)}/${run.runId}/history`;
    console.log(
      `\n${run.attached ? 'Following the open' : 'Started a'} protected backup of ${JOB} (${VMS.join(', ')})`,
    );
    console.log(`  in the Web UI: ${link}\n`);
    const display = new ProgressDisplay(process.stdout);
    const outcome = await followRun(run.handle, (status) => display.update(status));
    display.finish();
    console.log('');
    for (const line of formatOutcome(outcome)) console.log(line);

    const sessionId = outcome.report?.backup.sessionId;
    const verdicts = sessionId ? await (this.lab as RunningLab).client.verdicts({ sessionId }) : [];
    console.log(`\nThe lab's verdicts${sessionId ? ` on Veeam session ${sessionId}` : ''}:`);
    if (!verdicts.length) console.log('  none (no backup was taken)');
    for (const v of verdicts) console.log(`  ${v.vm}: ${v.consistent ? 'consistent' : 'INCONSISTENT'} (${v.reason})`);
    const consistent = verdicts.length > 0 && verdicts.every((v) => v.consistent);
    return consistent ? exitCodeFor(outcome.kind) : ExitCode.failure;
  }

  stayUp(): void {
    console.log(`\nThe Web UI stays up: ${this.ui}`);
    console.log(
      `  start more runs there: task queue ${DEFAULT_TASK_QUEUE}, workflow type protectedBackup (README "Starting runs")`,
    );
    console.log('Ctrl-C stops everything.');
  }
}

async function run(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const demo = new Demo(options);
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      console.log('\nStopping the worker, the lab and the dev server...');
      void demo.stop().then(() => process.exit(0));
    });
  }
  try {
    await demo.start();
    const code = await demo.backup();
    if (!interrupted && !options.exit) {
      demo.stayUp();
      return; // the signal handler stops everything and exits
    }
    await demo.stop();
    process.exit(code);
  } catch (err) {
    if (interrupted) return;
    await demo.stop();
    throw err;
  }
}

run().catch((err) => {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
