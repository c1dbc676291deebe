/**
 * The product's metrics on the worker's Prometheus endpoint (FVPB_METRICS_ADDRESS), scraped from a
 * real worker process against the dev server and the lab: beside the Temporal runtime's metrics,
 * every fvpb_* metric that workflow code emits through domain/metrics.ts, with its labels and the
 * buckets in seconds; nothing emitted again when a workflow replays on another worker.
 *
 * The worker runs a bundle of the product's workflows plus small test workflows
 * (test/notify/test-workflows.ts) that call the workflow-side API. The same worker process also
 * proves the notification wiring: FVPB_NOTIFY_* read at start, the `notify` activity registered,
 * one event delivered once per channel across Temporal's own retries, no secret in logs or history.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PRODUCT_METRICS, PRODUCT_METRIC_NAMES } from '../../domain/metrics';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertConsistentSessions } from '../helpers/lab-assertions';
import { JOB, scenario, vmNames } from '../helpers/scenarios';
import { freePort } from '../helpers/ports';
import { waitFor } from '../helpers/wait';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';
import { historyText } from '../helpers/temporal';
import { startHttpReceiver, startSmtpReceiver } from '../notify/receivers';
import {
  emitAcrossReplay,
  emitProductMetrics,
  notifyBackedUpUnprotected,
  proceedSignal,
} from '../notify/test-workflows';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition format, samples only. */
function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(port: number): Promise<{ text: string; samples: Sample[] }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return { text, samples: parseSamples(text) };
}

function find(samples: Sample[], name: string, labels: Record<string, string>): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

describe('product metrics on the worker endpoint', () => {
  let h: Harness;
  let bundle: string;
  const workers: WorkerProcess[] = [];

  async function startWorker(
    taskQueue: string,
    port: number,
    env: Record<string, string> = {},
  ): Promise<WorkerProcess> {
    const worker = await startWorkerProcess({
      temporalAddress: h.env.address,
      taskQueue,
      labUrl: h.lab.url,
      workflowBundle: bundle,
      env: { FVPB_METRICS_ADDRESS: `127.0.0.1:${port}`, ...env },
    });
    workers.push(worker);
    return worker;
  }

  before(async () => {
    h = await startHarness(scenario());
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../notify/test-workflows'),
      logger: undefined,
    });
    bundle = join(h.dir, 'metrics-workflow-bundle.js');
    writeFileSync(bundle, code);
  });
  after(async () => {
    await Promise.allSettled(workers.map((w) => w.kill('SIGKILL')));
    await h?.stop();
  });

  test('a protected backup, then every fvpb_* metric from workflow code, beside the runtime metrics', async () => {
    const port = await freePort();
    const taskQueue = uniqueId('product-metrics');
    await startWorker(taskQueue, port);

    // A real run through the worker: the runtime's metrics are there.
    await (await h.start(taskQueue, fastRequest(JOB))).result();
    await assertConsistentSessions(h.lab, JOB, 1, vmNames(scenario()));
    const afterRun = await scrape(port);
    assert.ok(find(afterRun.samples, 'temporal_workflow_completed', { workflow_type: 'protectedBackup' }).length > 0);
    assert.match(afterRun.text, /temporal_activity_execution_latency/);

    // The workflow-side API, from a workflow on the same worker.
    const vm = 'sql "01" \\ odd';
    await h.env.client.workflow.execute(emitProductMetrics, {
      taskQueue,
      workflowId: uniqueId('emit-metrics'),
      args: [{ job: JOB, restored: vm, owed: 'app-01' }],
    });
    // The worker and the workflow meter add these (camelCase, unlike the runtime's own metrics).
    const tags = { namespace: 'default', taskQueue, workflowType: 'emitProductMetrics' };
    const { samples, text } = await waitFor('the product metrics on the endpoint', async () => {
      const scraped = await scrape(port);
      return find(scraped.samples, 'fvpb_runs_total', tags).length > 0 && scraped;
    });

    assert.deepEqual(
      find(samples, 'fvpb_runs_total', tags).map((s) => [s.labels.outcome, s.labels.backup_job, s.value]),
      [['completed', JOB, 1]],
    );
    const gauge = (v: string) => find(samples, 'fvpb_vms_write_through', { ...tags, vm: v }).map((s) => s.value);
    assert.deepEqual(gauge(vm), [0], 'restored: no longer owed');
    assert.deepEqual(gauge('app-01'), [1], 'still owed');
    assert.deepEqual(
      find(samples, 'fvpb_restore_attempts_total', { ...tags, vm }).map((s) => s.value),
      [2],
    );
    assert.deepEqual(
      find(samples, 'fvpb_restore_failures_total', { ...tags, vm }).map((s) => s.value),
      [1],
    );
    assert.deepEqual(
      find(samples, 'fvpb_backed_up_unprotected_total', { ...tags, vm: 'app-01', backup_job: JOB }).map((s) => s.value),
      [1],
    );
    for (const [name, value] of [
      ['fvpb_flush_seconds', 2.5],
      ['fvpb_write_through_seconds', 75],
    ] as const) {
      assert.deepEqual(
        find(samples, `${name}_sum`, { ...tags, vm }).map((s) => s.value),
        [value],
      );
      assert.deepEqual(
        find(samples, `${name}_count`, { ...tags, vm }).map((s) => s.value),
        [1],
      );
      // Buckets in seconds, as domain/metrics.ts defines them.
      const bounds = find(samples, `${name}_bucket`, { ...tags, vm }).map((s) => s.labels.le);
      const defined = (
        name === 'fvpb_flush_seconds' ? PRODUCT_METRICS.flushSeconds : PRODUCT_METRICS.writeThroughSeconds
      ).buckets;
      assert.deepEqual(bounds, [...defined.map(String), '+Inf']);
    }
    // Every metric the module defines is on the endpoint, with its description.
    for (const name of PRODUCT_METRIC_NAMES) assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'));
    assert.match(text, /^# HELP fvpb_runs_total Protected backup runs by outcome$/m);
  });

  test('a workflow that replays on another worker does not emit again', async () => {
    const taskQueue = uniqueId('metrics-replay');
    const firstPort = await freePort();
    const first = await startWorker(taskQueue, firstPort);
    const handle = await h.env.client.workflow.start(emitAcrossReplay, {
      taskQueue,
      workflowId: uniqueId('emit-replay'),
      args: [JOB],
    });
    const tags = { taskQueue, workflowType: 'emitAcrossReplay', backup_job: JOB };
    await waitFor('the first outcome on the first worker', async () => {
      const { samples } = await scrape(firstPort);
      return find(samples, 'fvpb_runs_total', { ...tags, outcome: 'failed' }).length > 0;
    });
    await first.kill('SIGKILL');

    // The second worker replays the history up to the wait (the first outcome again), then goes on.
    const secondPort = await freePort();
    await startWorker(taskQueue, secondPort);
    await handle.signal(proceedSignal);
    await handle.result();
    const { samples } = await waitFor('the second outcome on the second worker', async () => {
      const scraped = await scrape(secondPort);
      return find(scraped.samples, 'fvpb_runs_total', { ...tags, outcome: 'cancelled' }).length > 0 && scraped;
    });
    assert.deepEqual(
      find(samples, 'fvpb_runs_total', tags).map((s) => [s.labels.outcome, s.value]),
      [['cancelled', 1]],
      'the replayed emission is not counted again',
    );
  });

  test('the worker sends a notification through its configured channels once, across Temporal retries', async () => {
    const TOKEN = 'T0KEN-in-the-webhook-url-only';
    const PASSWORD = 'smtp-pa$$word-only-in-env';
    const smtp = await startSmtpReceiver({ user: 'svc-notify', password: PASSWORD });
    const flaky = await startHttpReceiver((n) => (n === 0 ? 503 : 200)); // the first attempt fails
    try {
      const taskQueue = uniqueId('notify');
      const worker = await startWorker(taskQueue, await freePort(), {
        FVPB_NOTIFY_WEBHOOKS: 'slack:env:TEST_SLACK_URL',
        TEST_SLACK_URL: `${flaky.url}/services/${TOKEN}`,
        FVPB_NOTIFY_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        FVPB_NOTIFY_SMTP_USER: 'svc-notify',
        FVPB_NOTIFY_SMTP_PASSWORD_VAR: 'TEST_SMTP_PASSWORD',
        TEST_SMTP_PASSWORD: PASSWORD,
        FVPB_NOTIFY_MAIL_FROM: 'backups@example.com',
        FVPB_NOTIFY_MAIL_TO: 'ops@example.com',
        FVPB_NOTIFY_STATE_DIR: join(h.dir, 'notify-state'),
      });
      assert.match(worker.logs(), /"notify":\["webhook:TEST_SLACK_URL","mail"\]/, 'the worker names its channels');

      const workflowId = uniqueId('notify');
      const result = await h.env.client.workflow.execute(notifyBackedUpUnprotected, {
        taskQueue,
        workflowId,
        args: [{ vm: 'web-01', job: JOB, session: 'session-9' }],
      });
      // Attempt 1 mailed and failed on the webhook; attempt 2 posted and did not mail again.
      assert.equal(result.outcome, 'sent');
      assert.deepEqual(
        result.channels.map((c) => [c.channel, c.status]),
        [
          ['webhook:TEST_SLACK_URL', 'sent'],
          ['mail', 'already-sent'],
        ],
      );
      assert.equal(flaky.requests, 2);
      assert.equal(flaky.posts.length, 1);
      assert.equal(smtp.mails.length, 1);
      assert.equal(flaky.posts[0]!.headers['idempotency-key'], encodeURIComponent(result.key));
      assert.equal(smtp.mails[0]!.headers['x-fvpb-idempotency-key'], encodeURIComponent(result.key));
      assert.match(smtp.mails[0]!.headers['subject']!, /web-01 was backed up without write-through protection/);

      const history = historyText(h.env.address, workflowId);
      assert.match(history, /backed-up-unprotected/, 'a real history was read');
      for (const secret of [TOKEN, PASSWORD]) {
        assert.ok(!worker.logs().includes(secret), 'no secret in the worker logs');
        assert.ok(!history.includes(secret), 'no secret in the history');
      }
    } finally {
      await Promise.all([smtp.close(), flaky.close()]);
    }
  });
});
