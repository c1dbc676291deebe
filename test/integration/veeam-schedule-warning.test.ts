/**
 * Issue 10 item 7: a run the worker starts on a job that Veeam also schedules (IsScheduleEnabled)
 * completes as before and warns, in its result/status and in the worker log; a job without a Veeam
 * schedule has no such warning. Real dev server, a real worker process, the lab.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertPoliciesAre, requestedPolicies } from '../helpers/lab-assertions';
import { JOB, scenario } from '../helpers/scenarios';
import type { ScenarioInput } from '../../lab/scenario';
import type { WorkerProcess } from '../helpers/worker-process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { workflowIdFor } from '../../client/ids';
import { runScheduledJob, type ScriptCommand } from '../../lab/scheduler';
import type { protectedBackup } from '../../workflows';
import { repoRoot } from '../helpers/tools';

function scheduled(scheduleEnabled: boolean): ScenarioInput {
  const base = scenario();
  return {
    ...base,
    veeam: { ...base.veeam, jobs: (base.veeam?.jobs ?? []).map((job) => ({ ...job, scheduleEnabled })) },
  };
}

const WARNING = /Veeam job "Nightly-SQL" is also scheduled in Veeam \(IsScheduleEnabled\)/;

describe('a run on a job that Veeam also schedules', () => {
  let h: Harness;
  let worker: WorkerProcess;
  const taskQueue = uniqueId('schedule');

  before(async () => {
    h = await startHarness();
    worker = await h.startWorker(taskQueue);
  });
  after(async () => h?.stop());

  test('completes, protected as always, with the warning in its result, its status and the worker log', async () => {
    await h.lab.client.loadScenario(scheduled(true));
    const policies = await requestedPolicies(h.lab);
    const handle = await h.start(taskQueue, fastRequest(JOB));
    const report = await handle.result();
    assert.equal(report.phase, 'completed');
    assert.equal(report.warnings.filter((w) => WARNING.test(w)).length, 1, JSON.stringify(report.warnings));
    const status = await handle.query<typeof report>('status');
    assert.ok(status.warnings.some((w) => WARNING.test(w)));
    for (const v of await h.lab.client.verdicts({})) assert.equal(v.consistent, true, `${v.vm}: ${v.reason}`);
    await assertPoliciesAre(h.lab, policies);
    const logged = worker
      .logs()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string });
    assert.ok(
      logged.some((l) => l.level === 40 && WARNING.test(l.msg)),
      'a warn-level line in the worker log',
    );
  });

  test('a job without a Veeam schedule completes with no such warning', async () => {
    await h.lab.client.loadScenario(scheduled(false));
    const report = await (await h.start(taskQueue, fastRequest(JOB))).result();
    assert.equal(report.phase, 'completed');
    assert.deepEqual(
      report.warnings.filter((w) => /scheduled in Veeam/.test(w)),
      [],
    );
  });

  /** The hooks of Veeam's job settings, as the lab's scheduler runs them (test/integration/veeam-started.test.ts). */
  function hook(kind: 'pre-job' | 'post-job', input?: string): ScriptCommand {
    const args = ['--import', 'tsx', join(repoRoot, 'client', 'cli.ts'), 'hook', kind, '--job', JOB];
    if (input) args.push('--input', input);
    args.push('--address', h.env.address, '--task-queue', taskQueue, '--json');
    return { command: process.execPath, args, cwd: repoRoot, env: { PATH: process.env.PATH ?? '', HOME: '/tmp' } };
  }

  test('a Veeam-started run (the schedule is the point there) has no such warning', async () => {
    await h.lab.client.loadScenario(scheduled(true));
    const input = join(h.dir, `${uniqueId('hook-input')}.json`);
    const request = fastRequest(JOB, { veeamStarted: { sessionDeadline: '8 seconds', retryGrace: '2 seconds' } });
    writeFileSync(input, JSON.stringify(request));
    const scheduledRun = await runScheduledJob({
      lab: h.lab.client,
      job: JOB,
      preJob: hook('pre-job', input),
      postJob: hook('post-job'),
      retryWaitMs: 500,
    });
    assert.equal(scheduledRun.preJob[0]?.exitCode, 0, `pre-job stderr: ${scheduledRun.preJob[0]?.stderr}`);
    const report = await h.env.client.workflow.getHandle<typeof protectedBackup>(workflowIdFor(JOB)).result();
    assert.equal(report.phase, 'completed');
    assert.deepEqual(
      report.warnings.filter((w) => /scheduled in Veeam/.test(w)),
      [],
    );
  });
});
