/**
 * What every end-to-end benchmark stands on: the real Temporal dev server, the lab, the workflow
 * bundle built once and one worker process on it, torn down whatever happens; and the one way a
 * benchmark runs a backup (`protectedBackup` to its end, through the dev server's client).
 * Each benchmark keeps only what it measures.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab } from '../lab/launch';
import { startDevServer } from '../test/helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from '../test/helpers/worker-process';
import { buildBundle } from '../worker/bundle';
import { protectedBackup } from '../workflows';
import type { ProtectedBackupRequest } from '../workflows/input';
import type { RunReport } from '../workflows/status';

export type BenchLab = Awaited<ReturnType<typeof startLab>>;
export type BenchServer = Awaited<ReturnType<typeof startDevServer>>;

export interface BenchStack {
  env: BenchServer;
  lab: BenchLab;
  worker: WorkerProcess;
  taskQueue: string;
}

export interface BenchStackOptions {
  /** Names the task queue and the bundle's temporary folder (`bench-<name>-<pid>`). */
  name: string;
  /** The worker's environment on top of the test helper's (FVPB_* settings). */
  workerEnv?: Record<string, string>;
  /** Extra arguments for `temporal server start-dev`. */
  devServerArgs?: string[];
}

/** Starts the stack, runs `body` on it, and stops the worker, the server and the lab afterwards. */
export async function withBenchStack<T>(
  options: BenchStackOptions,
  body: (stack: BenchStack) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `fvpb-bench-${options.name}-`));
  const [env, lab, bundle] = await Promise.all([
    startDevServer({ extraArgs: options.devServerArgs ?? [] }),
    startLab(),
    buildBundle(join(dir, 'bundle.js')),
  ]);
  const taskQueue = `bench-${options.name}-${process.pid}`;
  let worker: WorkerProcess | undefined;
  try {
    worker = await startWorkerProcess({
      temporalAddress: env.address,
      taskQueue,
      labUrl: lab.url,
      workflowBundle: bundle,
      env: options.workerEnv ?? {},
    });
    return await body({ env, lab, worker, taskQueue });
  } finally {
    await worker?.kill('SIGKILL');
    await Promise.allSettled([env.teardown(), lab.stop()]);
  }
}

/** Runs one protected backup to its end and returns the run's report (whatever its phase). */
export function runBackup(
  stack: Pick<BenchStack, 'env' | 'taskQueue'>,
  workflowId: string,
  request: ProtectedBackupRequest,
  memo?: Record<string, unknown>,
): Promise<RunReport> {
  return stack.env.client.workflow.execute(protectedBackup, {
    taskQueue: stack.taskQueue,
    workflowId,
    args: [request],
    ...(memo ? { memo } : {}),
  });
}

/** Runs `main` and exits non-zero on any error (the benchmarks' entry point). */
export function runBench(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
