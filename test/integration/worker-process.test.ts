/**
 * The worker as a process: refuses a bad configuration with a clear message, serves Prometheus
 * metrics, shuts down gracefully on SIGTERM, and keeps credentials out of history and logs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertConsistentSessions, assertPoliciesAre, requestedPolicies } from '../helpers/lab-assertions';
import { JOB, scenario, vmNames } from '../helpers/scenarios';
import { repoRoot } from '../helpers/tools';
import { historyText } from '../helpers/temporal';
import { workerEnv } from '../helpers/worker-process';
import { freePort } from '../helpers/ports';
import { waitFor } from '../helpers/wait';

const PASSWORD = 'Vr9!q$`"\'-not-in-history';

describe('the worker process', () => {
  let h: Harness;

  before(async () => {
    h = await startHarness(scenario());
  });
  after(async () => h?.stop());

  test('a bad configuration stops it with exit code 2 and a message naming the variable', async () => {
    const env = workerEnv({ temporalAddress: h.env.address, taskQueue: 'x', labUrl: h.lab.url });
    delete env.FVPB_VEEAM_SERVER;
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'worker', 'main.ts')], {
      cwd: repoRoot,
      env: { ...env, FVPB_FVP_POOL_SIZE: 'many' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = await once(child, 'exit');
    assert.equal(code, 2);
    assert.match(stderr, /FVPB_VEEAM_SERVER/);
    assert.match(stderr, /FVPB_FVP_POOL_SIZE/);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace for a configuration error');
  });

  test('a namespace without the search attributes stops it with exit code 2 and the commands to register them', async () => {
    // A fresh namespace has none of the product's search attributes; every run would then fail its
    // workflow task at the first upsert, over and over, with its VMs in write-through.
    const namespace = uniqueId('bare');
    await h.env.connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    const env = workerEnv({ temporalAddress: h.env.address, taskQueue: 'x', labUrl: h.lab.url });
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'worker', 'main.ts')], {
      cwd: repoRoot,
      env: { ...env, TEMPORAL_NAMESPACE: namespace },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = await once(child, 'exit');
    assert.equal(code, 2, stderr);
    assert.match(stderr, /lacks the search attributes FvpbJob, FvpbVms, FvpbPhase, FvpbRestorePending/);
    assert.match(
      stderr,
      new RegExp(
        `temporal operator search-attribute create --namespace ${namespace} --name FvpbVms --type KeywordList`,
      ),
    );
  });

  test('a worker for other FVP or Veeam servers refuses a task queue that this site already serves', async () => {
    const taskQueue = uniqueId('site');
    const first = await h.startWorker(taskQueue);
    await waitFor('the first worker to poll', async () => {
      const { pollers } = await h.env.connection.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: taskQueue, kind: 1 },
        taskQueueType: 2,
      });
      return (pollers ?? []).some((p) => / fvpb site=[0-9a-f]{12}$/.test(p.identity ?? ''));
    });
    const env = workerEnv({ temporalAddress: h.env.address, taskQueue, labUrl: h.lab.url });
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'worker', 'main.ts')], {
      cwd: repoRoot,
      env: { ...env, FVPB_FVP_SERVER: 'fvp-other-site.lab.invalid' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = await once(child, 'exit');
    assert.equal(code, 2, stderr);
    assert.match(stderr, /is served by workers of another site .*give each site its own TEMPORAL_TASK_QUEUE/);
    // The same site joins the queue as a second worker does.
    const second = await h.startWorker(taskQueue);
    await Promise.all([first.kill('SIGTERM'), second.kill('SIGTERM')]);
  });

  test('serves Prometheus metrics and stops gracefully on SIGTERM', async () => {
    const port = await freePort();
    const taskQueue = uniqueId('metrics');
    const worker = await h.startWorker(taskQueue, { FVPB_METRICS_ADDRESS: `127.0.0.1:${port}` });
    await (await h.start(taskQueue, fastRequest(JOB, { dryRun: true }))).result();
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /temporal_workflow_completed/);
    assert.match(metrics, /temporal_activity_execution_latency/);
    const exited = once(worker.process, 'exit');
    worker.process.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0);
    assert.match(worker.logs(), /"msg":"worker stopped"/);
  });

  test('credentials reach the lab, and never the history, the logs or the lab state', async () => {
    const s = scenario();
    await h.lab.client.loadScenario({
      ...s,
      credentials: {
        fvp: { user: 'CORP\\svc-fvp', password: PASSWORD },
        veeam: { user: 'svc-veeam', password: PASSWORD },
      },
    });
    const policies = await requestedPolicies(h.lab);
    const taskQueue = uniqueId('creds');
    const worker = await h.startWorker(taskQueue, {
      FVPB_FVP_CREDENTIALS: 'env:LAB_FVP_USER:LAB_FVP_PASSWORD',
      FVPB_VEEAM_CREDENTIALS: 'env:LAB_VEEAM_USER:LAB_VEEAM_PASSWORD',
      LAB_FVP_USER: 'CORP\\svc-fvp',
      LAB_FVP_PASSWORD: PASSWORD,
      LAB_VEEAM_USER: 'svc-veeam',
      LAB_VEEAM_PASSWORD: PASSWORD,
      LOG_LEVEL: 'debug',
    });
    const handle = await h.start(taskQueue, fastRequest(JOB));
    await handle.result();
    await assertConsistentSessions(h.lab, JOB, 1, vmNames(s));
    await assertPoliciesAre(h.lab, policies);

    // Every execution the run caused (the run itself and any guard or helper workflow it started).
    const histories: string[] = [];
    for await (const execution of h.env.client.workflow.list()) {
      histories.push(historyText(h.env.address, execution.workflowId));
    }
    const history = histories.join('\n');
    assert.match(history, /"name": "describeJob"/, 'a real history was read');
    assert.match(history, /"job":"Nightly-SQL"/, 'payloads were decoded');
    assert.ok(!history.includes(PASSWORD), 'no password in any workflow history');
    assert.ok(worker.logs().length > 0 && !worker.logs().includes(PASSWORD), 'no password in the worker logs');
    const labFiles = [join(h.dir, 'lab-state.json'), join(h.dir, 'lab-state.json.invocations.jsonl')];
    for (const file of labFiles) assert.ok(!readFileSync(file, 'utf8').includes(PASSWORD), `no password in ${file}`);
  });

  test('a wrong password fails the run with a readable error that does not contain it', async () => {
    await h.lab.client.loadScenario({ ...scenario(), credentials: { fvp: { user: 'svc-fvp', password: PASSWORD } } });
    const taskQueue = uniqueId('badcreds');
    const wrong = `${PASSWORD}-wrong`;
    const worker = await h.startWorker(taskQueue, {
      FVPB_FVP_CREDENTIALS: 'env:LAB_FVP_USER:LAB_FVP_PASSWORD',
      LAB_FVP_USER: 'svc-fvp',
      LAB_FVP_PASSWORD: wrong,
    });
    const handle = await h.start(taskQueue, fastRequest(JOB));
    const err = await handle.result().then(
      () => assert.fail('the run should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    const message = String(err.cause?.message);
    assert.match(message, /authentication/i);
    assert.ok(!message.includes(wrong) && !message.includes(PASSWORD));
    assert.ok(!worker.logs().includes(wrong));
  });
});
