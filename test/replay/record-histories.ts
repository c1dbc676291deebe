/**
 * Records histories of real runs (dev server + worker process + lab) as replay fixtures. Run it
 * when a workflow changes on purpose, and commit the new files beside the old:
 *   npx tsx test/replay/record-histories.ts [version] [--only group,...]   (default v2; never overwrites a file)
 * Old histories stay: they are the runs that may still be in flight when a new worker deploys.
 *
 * Recorded, by group (`--only <group>,...` records some of them; default all):
 *   baseline: protectedBackup runs (`<version>-<name>`), the per-VM guards behind them and in the
 *     paths only they take (`<version>-guard-*`: shared by two runs, a holder that never got its
 *     flush, a terminated holder dropped, a terminated guard's record adopted, a continue-as-new
 *     chain), and the reconciler (`<version>-reconcile-*`);
 *   run-patches, restore-outcomes, veeam-started, successor-adoption: paths taken only under a patch (their
 *     files say which); each fixture of those is checked to carry its patch marker when recorded.
 */
import { fastRequest, startHarness, uniqueId } from '../helpers/harness';
import { JOB, scenario } from '../helpers/scenarios';
import { guardId, guardRuns, guardWorkerEnv, jobsScenario, waitFor } from '../helpers/guard';
import { sessionsOf } from '../helpers/lab-assertions';
import { runReconciler } from '../../client/guard/reconcile';
import type { ProtectedBackupRequest } from '../../workflows/input';
import { closedGuard, save, type Recording } from './recording';
import { recordRestoreOutcomes } from './restore-outcomes';
import { recordRunPatches } from './run-patches';
import { recordSuccessorAdoption } from './successor-adoption';
import { recordVeeamStarted } from './veeam-started';

const runs: { name: string; lab: Parameters<typeof scenario>[0]; request: ProtectedBackupRequest; faults?: boolean }[] =
  [
    { name: 'success-3-vms', lab: {}, request: fastRequest(JOB) },
    { name: 'job-failed', lab: { outcome: 'Failed' }, request: fastRequest(JOB) },
    {
      name: 'flush-timeout',
      lab: { destageMs: (i) => (i === 0 ? 60_000 : 100) },
      request: fastRequest(JOB, { flush: { deadline: '1 second', pollInterval: '100ms', concurrency: 8 } }),
    },
    { name: 'transient-faults', lab: {}, request: fastRequest(JOB), faults: true },
    { name: 'dry-run', lab: {}, request: fastRequest(JOB, { dryRun: true }) },
    { name: 'invalid-input', lab: {}, request: { job: '' } },
  ];

/** The runs, guards and reconciler of every version since v2 (recorded again under each). */
async function recordBaseline({ h, version, taskQueue }: Recording): Promise<void> {
  for (const run of runs) {
    await h.lab.client.loadScenario(scenario(run.lab));
    if (run.faults) await h.lab.client.setFaults([{ action: 'fail', probability: 0.3, message: 'injected' }], 3);
    const since = Date.now();
    const handle = await h.start(taskQueue, run.request, `replay-${version}-${run.name}`);
    await handle.result().catch(() => undefined);
    save(h, `${version}-${run.name}.json`, handle.workflowId);
    if (run.name === 'success-3-vms')
      save(h, `${version}-guard-single.json`, guardId('sql-01'), await closedGuard(h, 'sql-01', since));
    if (run.name === 'flush-timeout') {
      save(h, `${version}-guard-flush-timeout.json`, guardId('sql-01'), await closedGuard(h, 'sql-01', since));
    }
  }

  // Two runs sharing a VM.
  {
    await h.lab.client.loadScenario(
      jobsScenario([
        { name: 'Short', vms: ['sql-01'], taskMs: 300 },
        { name: 'Long', vms: ['web-01', 'app-01', 'sql-01'], taskMs: 600 },
      ]),
    );
    const since = Date.now();
    const [a, b] = await Promise.all([
      h.start(taskQueue, fastRequest('Short'), `replay-${version}-overlap-short`),
      h.start(taskQueue, fastRequest('Long'), `replay-${version}-overlap-long`),
    ]);
    await Promise.all([a.result(), b.result()]);
    save(h, `${version}-overlap-short.json`, a.workflowId);
    save(h, `${version}-overlap-long.json`, b.workflowId);
    save(h, `${version}-guard-shared.json`, guardId('sql-01'), await closedGuard(h, 'sql-01', since));
  }

  // A holder terminated mid-job: dropped, its job waited for, then the restore.
  {
    await h.lab.client.loadScenario(scenario({ taskMs: 1200 }));
    const since = Date.now();
    const handle = await h.start(taskQueue, fastRequest(JOB), `replay-${version}-terminated-holder`);
    await waitFor('the job', async () => (await sessionsOf(h.lab, JOB)).some((s) => s.state === 'Working'));
    await handle.terminate('recording: holder terminated');
    save(h, `${version}-guard-dropped-holder.json`, guardId('sql-01'), await closedGuard(h, 'sql-01', since));
  }

  // A guard terminated under a live run, then both: a successor adopts, the reconciler reconciles.
  {
    await h.lab.client.loadScenario(scenario({ taskMs: 1200 }));
    const since = Date.now();
    const handle = await h.start(taskQueue, fastRequest(JOB), `replay-${version}-guard-terminated`);
    await waitFor('the job', async () => (await sessionsOf(h.lab, JOB)).some((s) => s.state === 'Working'));
    await h.env.client.workflow.getHandle(guardId('sql-01')).terminate('recording: guard terminated');
    await handle.result();
    save(h, `${version}-guard-terminated-run.json`, handle.workflowId);
    save(h, `${version}-guard-adopted.json`, guardId('sql-01'), await closedGuard(h, 'sql-01', since));
  }
  {
    await h.lab.client.loadScenario(scenario({ taskMs: 600 }));
    const handle = await h.start(taskQueue, fastRequest(JOB), `replay-${version}-all-terminated`);
    await waitFor('the job', async () => (await sessionsOf(h.lab, JOB)).some((s) => s.state === 'Working'));
    for (const vm of ['sql-01', 'app-01', 'web-01']) {
      await h.env.client.workflow.getHandle(guardId(vm)).terminate('recording: guard terminated');
    }
    await handle.terminate('recording: run terminated');
    await waitFor('the closed guards to be visible', async () => {
      const dry = await runReconciler(h.env.client, { taskQueue, dryRun: true });
      return dry.found === 3 ? dry : undefined;
    });
    const since = Date.now();
    await runReconciler(h.env.client, { taskQueue, dryRun: true });
    await runReconciler(h.env.client, { taskQueue });
    for await (const info of h.env.client.workflow.list({ query: `WorkflowType = 'reconcilePolicies'` })) {
      if (info.startTime.getTime() < since) continue;
      const dry = (await h.env.client.workflow.getHandle(info.workflowId, info.runId).result()).dryRun;
      save(h, `${version}-reconcile-${dry ? 'dry-run' : 'restored'}.json`, info.workflowId, info.runId);
    }
    save(h, `${version}-guard-reconciled.json`, guardId('sql-01'), await closedGuard(h, 'sql-01', since));
  }

  // A continue-as-new chain: many holders on a worker with a low history limit.
  {
    const lowLimit = uniqueId('record-can');
    await h.startWorker(lowLimit, { ...guardWorkerEnv, FVPB_GUARD_HISTORY_LIMIT: '100' });
    const jobs = Array.from({ length: 8 }, (_, i) => `J-${i + 1}`);
    await h.lab.client.loadScenario(jobsScenario(jobs.map((name) => ({ name, vms: ['sql-01'], taskMs: 2500 }))));
    const since = Date.now();
    const handles = await Promise.all(jobs.map((job) => h.start(lowLimit, fastRequest(job))));
    await Promise.all(handles.map((x) => x.result()));
    const chain = await waitFor('the chain', async () => {
      const found = await guardRuns(h.env.client, 'sql-01', since);
      return found.some((r) => r.status === 'CONTINUED_AS_NEW') && found[0]?.status === 'COMPLETED' ? found : undefined;
    });
    const first = chain.at(-1);
    const last = chain[0];
    if (!first || !last) throw new Error('no chain');
    save(h, `${version}-guard-continued-first.json`, guardId('sql-01'), first.runId);
    save(h, `${version}-guard-continued-last.json`, guardId('sql-01'), last.runId);
  }
}

/** Each group records on its own; `--only` picks some, in this order. */
const groups: Record<string, (recording: Recording) => Promise<void>> = {
  baseline: recordBaseline,
  'run-patches': recordRunPatches,
  'restore-outcomes': recordRestoreOutcomes,
  'veeam-started': recordVeeamStarted,
  // Last: it starts a worker that models visibility lag (on its own queue).
  'successor-adoption': recordSuccessorAdoption,
};

function parseArgs(argv: string[]): { version: string; only: string[] } {
  const only = argv.indexOf('--only');
  const picked = only >= 0 ? (argv[only + 1] ?? '').split(',').filter(Boolean) : Object.keys(groups);
  const unknown = picked.filter((g) => !(g in groups));
  if (only >= 0 && (picked.length === 0 || unknown.length > 0)) {
    throw new Error(`--only takes a comma-separated list of ${Object.keys(groups).join(', ')}; got ${argv[only + 1]}`);
  }
  const positional = argv.filter((_, i) => only < 0 || (i !== only && i !== only + 1));
  return { version: positional[0] ?? 'v2', only: picked };
}

async function main(): Promise<void> {
  const { version, only } = parseArgs(process.argv.slice(2));
  const h = await startHarness();
  try {
    const taskQueue = uniqueId('record');
    await h.startWorker(taskQueue, guardWorkerEnv);
    for (const name of Object.keys(groups).filter((g) => only.includes(g))) {
      const started = Date.now();
      await groups[name]!({ h, version, taskQueue });
      console.log(`${name}: ${Math.round((Date.now() - started) / 1000)} s`);
    }
  } finally {
    await h.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
