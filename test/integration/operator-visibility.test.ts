/**
 * What an operator sees of a run without opening its JSON: the run's current details (a per-VM
 * table the Web UI shows on the run's page), the product's search attributes on runs and guards
 * (what `list --vm` and the saved views query), and the product metrics on the worker's Prometheus
 * endpoint. Real dev server, a real worker process, the lab.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { sessionsOf } from '../helpers/lab-assertions';
import { guardId, guardWorkerEnv, waitFor } from '../helpers/guard';
import { JOB, scenario } from '../helpers/scenarios';
import { freePort } from '../helpers/ports';

async function ids(client: Client, query: string): Promise<string[]> {
  const found: string[] = [];
  for await (const info of client.workflow.list({ query })) found.push(info.workflowId);
  return found;
}

describe('operator visibility: details, search attributes, metrics', () => {
  let h: Harness;
  let metricsPort: number;
  const taskQueue = uniqueId('visible');

  before(async () => {
    h = await startHarness(scenario({ taskMs: 1500 }));
    metricsPort = await freePort();
    await h.startWorker(taskQueue, { ...guardWorkerEnv, FVPB_METRICS_ADDRESS: `127.0.0.1:${metricsPort}` });
  });
  after(async () => h?.stop());

  test('a run shows its VM table while it runs, and runs and guards are found by VM, job, phase and restore pending', async () => {
    const handle = await h.start(taskQueue, fastRequest(JOB));
    await waitFor('the job to be running', async () =>
      (await sessionsOf(h.lab, JOB)).some((s) => s.state === 'Working' && s.progress > 0),
    );
    // The run learns the session's progress at its next watch report: the table shows it then.
    const details = await waitFor('the details to show the session', async () => {
      const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      return /Veeam session .*: Working/.test(String(metadata.currentDetails))
        ? String(metadata.currentDetails)
        : undefined;
    });
    assert.match(details, /\*\*Nightly-SQL\*\*: backing-up/);
    assert.match(details, /\| VM \| step \| flush left \| restore \|/);
    for (const vm of ['sql-01', 'app-01', 'web-01'])
      assert.match(details, new RegExp(`\\| ${vm} \\| flushed \\| flushed \\| pending \\|`));

    // While the job reads, the run and the guard of sql-01 say a restore is pending.
    const pendingRun = `WorkflowType = 'protectedBackup' AND FvpbVms = 'sql-01' AND FvpbRestorePending = true`;
    const pendingGuard = `WorkflowType = 'vmGuard' AND FvpbVms = 'sql-01' AND FvpbRestorePending = true`;
    await waitFor('the run to be listed as restore pending', async () =>
      (await ids(h.env.client, pendingRun)).includes(handle.workflowId),
    );
    await waitFor(
      'the guard to be listed as owing a restore',
      async () => (await ids(h.env.client, pendingGuard)).length === 1,
    );

    await handle.result();
    const done = `FvpbJob = 'Nightly-SQL' AND FvpbPhase = 'completed' AND FvpbRestorePending = false`;
    await waitFor('the completed run to be listed', async () =>
      (await ids(h.env.client, done)).includes(handle.workflowId),
    );
    const final = String(
      (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails,
    );
    assert.match(final, /\| sql-01 \| restored \| flushed \| restored \|/);

    // The guard's activities carry summaries the Web UI shows in its event list.
    const history = await h.env.client.workflow.getHandle(guardId('sql-01')).fetchHistory();
    const summaries = (history.events ?? []).flatMap((e) => {
      const data = e.activityTaskScheduledEventAttributes ? e.userMetadata?.summary?.data : undefined;
      return data ? [JSON.parse(Buffer.from(data).toString('utf8')) as string] : [];
    });
    // Guards since `guard-lean-flush` switch and read the first flush in one activity.
    const steps = ['switch to write-through and flush sql-01', 'watch the flush of sql-01', 'restore sql-01'];
    for (const summary of steps) {
      assert.ok(summaries.includes(summary), `${summary} in ${JSON.stringify(summaries)}`);
    }
  });

  test('the worker exposes the product metrics: the run by outcome, the VMs in write-through, the flush times', async () => {
    const text = await waitFor('the run outcome metric', async () => {
      const body = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return /fvpb_runs_total\{[^}]*outcome="completed"[^}]*\} [1-9]/.test(body) ? body : undefined;
    });
    assert.match(text, /fvpb_runs_total\{[^}]*workflowType="protectedBackup"/);
    assert.match(text, /fvpb_vms_write_through\{[^}]*vm="sql-01"[^}]*\} 0/, 'back to 0 after the restore');
    assert.match(text, /fvpb_flush_seconds_count\{[^}]*vm="sql-01"/);
    assert.match(text, /fvpb_write_through_seconds_count\{[^}]*vm="sql-01"/);
  });
});
