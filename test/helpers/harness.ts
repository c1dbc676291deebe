/**
 * Everything an integration test needs, all real except the lab: the Temporal CLI dev server, the
 * lab process, a pre-built workflow bundle, and worker processes that can be killed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { startLab } from '../../lab/launch';
import type { ScenarioInput } from '../../lab/scenario';
import { buildBundle } from '../../worker/bundle';
import { protectedBackup } from '../../workflows';
import type { ProtectedBackupRequest } from '../../workflows/input';
import { startDevServer } from './temporal';
import { startWorkerProcess, type WorkerProcess } from './worker-process';

export type Lab = Awaited<ReturnType<typeof startLab>>;

/** Short timings so that a killed worker is noticed in seconds, not minutes. */
export const fastTimeouts = {
  heartbeat: '2 seconds',
  step: '20 seconds',
  retryInitialInterval: '100ms',
  retryMaximumAttempts: 10,
  restoreMaxInterval: '1 second',
  // About the ten attempts these timeouts gave before the hand-over came after a time.
  restoreHandOverAfter: '10 seconds',
} as const;

export const fastFlush = { deadline: '20 seconds', pollInterval: '100ms', concurrency: 8 } as const;
export const fastVeeam = { pollInterval: '100ms' } as const;

export function fastRequest(job: string, extra: Partial<ProtectedBackupRequest> = {}): ProtectedBackupRequest {
  return { job, flush: fastFlush, veeam: fastVeeam, timeouts: fastTimeouts, ...extra };
}

export interface Harness {
  env: TestWorkflowEnvironment;
  lab: Lab;
  bundle: string;
  dir: string;
  workers: WorkerProcess[];
  startWorker(taskQueue: string, env?: Record<string, string>): Promise<WorkerProcess>;
  start(taskQueue: string, request: unknown, workflowId?: string): Promise<WorkflowHandle<typeof protectedBackup>>;
  stop(): Promise<void>;
}

let sequence = 0;
export function uniqueId(prefix: string): string {
  sequence += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${sequence}`;
}

export async function startHarness(scenario?: ScenarioInput): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'fvpb-test-'));
  const [env, lab, bundle] = await Promise.all([
    startDevServer(),
    startLab({ stateFile: join(dir, 'lab-state.json') }),
    buildBundle(join(dir, 'workflow-bundle.js')),
  ]);
  if (scenario) await lab.client.loadScenario(scenario);
  const workers: WorkerProcess[] = [];
  const harness: Harness = {
    env,
    lab,
    bundle,
    dir,
    workers,
    async startWorker(taskQueue, extraEnv) {
      const worker = await startWorkerProcess({
        temporalAddress: env.address,
        taskQueue,
        labUrl: lab.url,
        workflowBundle: bundle,
        env: extraEnv,
      });
      workers.push(worker);
      return worker;
    },
    start(taskQueue, request, workflowId = uniqueId('protected-backup')) {
      return env.client.workflow.start(protectedBackup, {
        taskQueue,
        workflowId,
        args: [request as ProtectedBackupRequest],
      });
    },
    async stop() {
      await Promise.allSettled(workers.map((w) => w.kill('SIGKILL')));
      await Promise.allSettled([env.teardown(), lab.stop()]);
    },
  };
  return harness;
}
