/**
 * Real worker processes for integration tests: `node --import tsx worker/main.ts`, configured
 * through the environment exactly as in production, with the lab's fake PowerShell host as the
 * FVP and Veeam executable. Tests kill them with SIGKILL to prove that crashes change nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { once } from 'node:events';
import { repoRoot } from './tools';

export const fakePowerShell = join(repoRoot, 'lab', 'bin', 'fake-powershell');

export interface WorkerProcessOptions {
  temporalAddress: string;
  taskQueue: string;
  labUrl: string;
  workflowBundle?: string;
  /** Extra or overriding environment variables. */
  env?: Record<string, string>;
  /** Node's arguments to run the worker; default the TypeScript entry point through tsx. */
  nodeArgs?: string[];
}

export interface WorkerProcess {
  process: ChildProcess;
  /** Everything the worker wrote to stderr (its JSON logs). */
  logs(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function workerEnv(options: WorkerProcessOptions): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/root',
    TEMPORAL_ADDRESS: options.temporalAddress,
    TEMPORAL_TASK_QUEUE: options.taskQueue,
    FVPB_FVP_EXECUTABLE: fakePowerShell,
    FVPB_FVP_SERVER: 'fvp-mgmt.lab.invalid',
    FVPB_VEEAM_EXECUTABLE: fakePowerShell,
    FVPB_VEEAM_SERVER: 'vbr.lab.invalid',
    FVPB_FVP_TIMEOUT_MS: '10000',
    FVPB_VEEAM_TIMEOUT_MS: '10000',
    FVPB_LAB_URL: options.labUrl,
    FVPB_SHUTDOWN_GRACE: '1 second',
    // A killed worker's cached workflows move on after this; production keeps the 10 s default.
    FVPB_STICKY_QUEUE_TIMEOUT: '1 second',
    // The guards' step timeouts, as short as the runs' (harness.ts fastTimeouts): a killed worker's
    // guard steps are retried in seconds.
    FVPB_GUARD_HEARTBEAT: '2 seconds',
    FVPB_GUARD_STEP_TIMEOUT: '20 seconds',
    FVPB_GUARD_RETRY_INITIAL_INTERVAL: '100ms',
    FVPB_GUARD_RETRY_MAXIMUM_ATTEMPTS: '10',
    FVPB_GUARD_RESTORE_MAX_INTERVAL: '1 second',
    FVPB_GUARD_FLUSH_POLL_INTERVAL: '100ms',
    FVPB_GUARD_JOB_POLL_INTERVAL: '100ms',
    LOG_LEVEL: 'info',
    ...(options.workflowBundle ? { FVPB_WORKFLOW_BUNDLE: options.workflowBundle } : {}),
    ...options.env,
  };
}

/** Starts a worker and resolves once it polls its task queue. */
export async function startWorkerProcess(options: WorkerProcessOptions): Promise<WorkerProcess> {
  const nodeArgs = options.nodeArgs ?? ['--import', 'tsx', join(repoRoot, 'worker', 'main.ts')];
  const child = spawn(process.execPath, nodeArgs, {
    cwd: repoRoot,
    env: workerEnv(options),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const started = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"msg":"worker started"')) resolve();
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`worker exited before it started (code ${code}, signal ${signal}):\n${output.slice(-4000)}`)),
    );
  });
  await started;
  return {
    process: child,
    logs: () => output,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    },
  };
}
