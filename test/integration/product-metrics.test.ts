/**
 * The product's metrics on the worker's Prometheus endpoint (FVPB_METRICS_ADDRESS), scraped from a
 * real worker process against the dev server and the lab: beside the Temporal runtime's metrics,
 * every fvpb_* metric that workflow code emits through domain/metrics.ts, with its labels and the
 * buckets in seconds; nothing emitted again when a workflow replays on another worker.
 *
 * The worker runs a bundle of the product's workflows plus two test workflows
 * (test/notify/metrics-workflows.ts) that call the workflow-side API.
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
import { emitAcrossReplay, emitProductMetrics, proceedSignal } from '../notify/metrics-workflows';

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

  async function startWorker(taskQueue: string, port: number): Promise<WorkerProcess> {
    const worker = await startWorkerProcess({
      temporalAddress: h.env.address,
      taskQueue,
      labUrl: h.lab.url,
      workflowBundle: bundle,
      env: { FVPB_METRICS_ADDRESS: `127.0.0.1:${port}` },
    });
    workers.push(worker);
    return worker;
  }

  before(async () => {
    h = await startHarness(scenario());
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../notify/metrics-workflows'),
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
      find(samples, 'fvpb_runs_total', tags).map((s) => [s.labels.outcome, s.labels.job, s.value]),
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
      find(samples, 'fvpb_backed_up_unprotected_total', { ...tags, vm: 'app-01', job: JOB }).map((s) => s.value),
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
    const tags = { taskQueue, workflowType: 'emitAcrossReplay', job: JOB };
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
});
