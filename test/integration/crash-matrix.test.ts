/**
 * The crash matrix: a real worker process is SIGKILLed at each step of a run, three times per
 * step, and a new worker process takes over. Every run must end restored, with exactly one Veeam
 * session and a consistent backup. Then the Temporal dev server itself is restarted mid-run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertConsistentSessions, assertPoliciesAre, requestedPolicies, sessionsOf } from '../helpers/lab-assertions';
import { JOB, scenario, vmNames } from '../helpers/scenarios';
import { waitFor } from '../helpers/wait';
import { startDevServer } from '../helpers/temporal';
import { startWorkerProcess } from '../helpers/worker-process';
import { startLab } from '../../lab/launch';
import { buildBundle } from '../../worker/bundle';
import { protectedBackup } from '../../workflows';
import type { Lab } from '../helpers/harness';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

const anyVmInWriteThrough = async (lab: Lab) =>
  (await lab.client.state()).fvp.vms.some((vm) => vm.requested.mode === 'WriteThrough');
const invoked = async (lab: Lab, op: string) => (await lab.client.invocations({ op })).invocations.length > 0;

/** Each step: the lab scenario that makes it last, and the moment to kill the worker. */
const steps: { name: string; scenario: Parameters<typeof scenario>[0]; reached: (lab: Lab) => Promise<boolean> }[] = [
  { name: 'after write-through', scenario: { destageMs: () => 800 }, reached: anyVmInWriteThrough },
  {
    name: 'during the flush wait',
    scenario: { destageMs: () => 1500 },
    reached: (lab) => invoked(lab, 'Get-VmPolicyStats'),
  },
  {
    name: 'right after the job start',
    scenario: { taskMs: 1500 },
    reached: async (lab) => (await sessionsOf(lab, JOB)).length > 0,
  },
  {
    name: 'during the job',
    scenario: { taskMs: 1500 },
    reached: async (lab) => (await sessionsOf(lab, JOB)).some((s) => s.state === 'Working' && s.progress > 0),
  },
  { name: 'during the restore', scenario: {}, reached: (lab) => invoked(lab, 'Restore-VmCachePolicy') },
];

describe('crash matrix: SIGKILL of the worker at every step', () => {
  let h: Harness;

  before(async () => {
    h = await startHarness();
  });
  after(async () => h?.stop());

  for (const step of steps) {
    for (let round = 1; round <= 3; round++) {
      test(`killed ${step.name} (#${round}): restored, one session, consistent`, async () => {
        const s = scenario(step.scenario);
        await h.lab.client.loadScenario(s);
        if (step.name === 'during the restore') {
          // Slow restores, so that the kill lands in the middle of them.
          await h.lab.client.setFaults([{ op: 'Restore-VmCachePolicy', action: 'delay', delayMs: 700 }]);
        }
        const policies = await requestedPolicies(h.lab);
        const taskQueue = uniqueId('crash');
        const first = await h.startWorker(taskQueue);
        const handle = await h.start(taskQueue, fastRequest(JOB));
        await waitFor(step.name, () => step.reached(h.lab));
        await first.kill('SIGKILL');
        await h.lab.client.clearFaults();
        const second = await h.startWorker(taskQueue);
        const report = await handle.result();
        assert.equal(report.phase, 'completed');
        await assertConsistentSessions(h.lab, JOB, 1, vmNames(s));
        await assertPoliciesAre(h.lab, policies);
        await second.kill('SIGTERM');
      });
    }
  }
});

describe('crash matrix: the Temporal dev server restarts mid-run', () => {
  test('the run resumes from the SQLite file and ends restored, with one consistent session', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fvpb-restart-'));
    const dbFilename = join(dir, 'temporal.db');
    const lab = await startLab({ stateFile: join(dir, 'lab.json') });
    const bundle = await buildBundle(join(dir, 'bundle.js'));
    let env = await startDevServer({ dbFilename });
    const port = Number(env.address.split(':').at(-1));
    const taskQueue = uniqueId('restart');
    const s = scenario({ taskMs: 1500 });
    await lab.client.loadScenario(s);
    const policies = await requestedPolicies(lab);
    const worker = await startWorkerProcess({
      temporalAddress: env.address,
      taskQueue,
      labUrl: lab.url,
      workflowBundle: bundle,
    });
    try {
      const workflowId = uniqueId('restart');
      await env.client.workflow.start(protectedBackup, { taskQueue, workflowId, args: [fastRequest(JOB)] });
      await waitFor('the job to run', async () => (await sessionsOf(lab, JOB)).some((x) => x.state === 'Working'));
      await env.teardown();
      env = await startDevServer({ dbFilename, port });
      const report = await env.client.workflow.getHandle<typeof protectedBackup>(workflowId).result();
      assert.equal(report.phase, 'completed');
      await assertConsistentSessions(lab, JOB, 1, vmNames(s));
      await assertPoliciesAre(lab, policies);
    } finally {
      await worker.kill('SIGKILL');
      await env.teardown();
      await lab.stop();
    }
  });
});
