/**
 * Records histories of real protectedBackup runs (dev server + worker process + lab) as replay
 * fixtures. Run it when the workflow changes on purpose, and commit the new files beside the old:
 *   npx tsx test/replay/record-histories.ts
 * Old histories stay: they are the runs that may still be in flight when a new worker deploys.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fastRequest, startHarness, uniqueId } from '../helpers/harness';
import { temporalCli } from '../helpers/tools';
import { JOB, scenario } from '../helpers/scenarios';
import type { ProtectedBackupRequest } from '../../workflows/input';

const fixtures = join(__dirname, '..', 'fixtures', 'histories');

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

async function main(): Promise<void> {
  const version = process.argv[2] ?? 'v1';
  const h = await startHarness();
  try {
    const taskQueue = uniqueId('record');
    await h.startWorker(taskQueue);
    for (const run of runs) {
      await h.lab.client.loadScenario(scenario(run.lab));
      if (run.faults) await h.lab.client.setFaults([{ action: 'fail', probability: 0.3, message: 'injected' }], 3);
      const handle = await h.start(taskQueue, run.request, `replay-${run.name}`);
      await handle.result().catch(() => undefined);
      const file = join(fixtures, `${version}-${run.name}.json`);
      // The CLI writes the same JSON the Web UI downloads: what an operator would attach to a bug.
      const json = execFileSync(temporalCli, [
        'workflow',
        'show',
        '--address',
        h.env.address,
        '--workflow-id',
        handle.workflowId,
        '--output',
        'json',
      ]);
      writeFileSync(file, json);
      console.log(`recorded ${file}`);
    }
  } finally {
    await h.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
