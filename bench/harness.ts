/**
 * What every end-to-end benchmark stands on: the real Temporal dev server, the lab, the workflow
 * bundle built once and one worker process on it, torn down whatever happens; and the one way a
 * benchmark runs a backup (`protectedBackup` to its end, through the dev server's client).
 * Each benchmark keeps only what it measures.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab } from '../lab/launch';
import { startDevServer } from '../test/helpers/temporal';
import { repoRoot } from '../test/helpers/tools';
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
  /**
   * Which worker: `tsx` (default) runs worker/main.ts through tsx as the integration tests do;
   * `compiled` builds the shipped JavaScript first and starts it as `npm run worker:prod` does,
   * which is what memory figures must be taken on (tsx adds a loader thread and its own heap).
   */
  worker?: 'tsx' | 'compiled';
}

/** Starts the stack, runs `body` on it, and stops the worker, the server and the lab afterwards. */
export async function withBenchStack<T>(
  options: BenchStackOptions,
  body: (stack: BenchStack) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `fvpb-bench-${options.name}-`));
  // Inside the repository, so that the compiled worker finds node_modules as dist/ does.
  const compiledDir = join(repoRoot, 'node_modules', '.cache', 'fvpb-bench', `${options.name}-${process.pid}`);
  const [env, lab, bundle] = await Promise.all([
    startDevServer({ extraArgs: options.devServerArgs ?? [] }),
    startLab(),
    buildBundle(join(dir, 'bundle.js')),
    options.worker === 'compiled' ? buildWorker(compiledDir) : undefined,
  ]);
  const taskQueue = `bench-${options.name}-${process.pid}`;
  let worker: WorkerProcess | undefined;
  try {
    const workerOptions = {
      temporalAddress: env.address,
      taskQueue,
      labUrl: lab.url,
      workflowBundle: bundle,
      env: options.workerEnv ?? {},
    };
    // The compiled worker as `npm run worker:prod` starts it (node --enable-source-maps, a pre-built
    // bundle), without npm in between: the benchmark samples this very process.
    const compiled = ['--enable-source-maps', join(compiledDir, 'worker', 'main.js')];
    worker = await startWorkerProcess(
      options.worker === 'compiled' ? { ...workerOptions, nodeArgs: compiled } : workerOptions,
    );
    return await body({ env, lab, worker, taskQueue });
  } finally {
    await worker?.kill('SIGKILL');
    await Promise.allSettled([env.teardown(), lab.stop()]);
    rmSync(compiledDir, { recursive: true, force: true });
  }
}

/** `npm run build`'s JavaScript (tsconfig.build.json and the PowerShell module) into `outDir`. */
async function buildWorker(outDir: string): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const tsc = spawn(
    process.execPath,
    [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir],
    { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const [code] = (await once(tsc, 'exit')) as [number | null];
  // tsc emits despite type errors; a type error is typecheck's to report, not the benchmark's.
  if (code !== 0 && code !== 2) throw new Error(`tsc -p tsconfig.build.json exited ${code}`);
  const psm1 = join('activities', 'powershell', 'FvpBackup.psm1');
  cpSync(join(repoRoot, psm1), join(outDir, psm1));
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
