/**
 * A VM that leaves write-through after its flush was verified, while the Veeam job reads its disks
 * (an admin, FVP itself, a stale write): its guard notices at the next holder check, protects it
 * again, and the run fails as PolicyDrift naming the VM, instead of reporting a silent success. The
 * policy the admin set on purpose is the one the VM ends with, not overwritten by the old record.
 * Real dev server, a real worker process, the lab.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { requestedPolicies, sessionsOf } from '../helpers/lab-assertions';
import { guardState, guardWorkerEnv, waitFor } from '../helpers/guard';
import { JOB, scenario } from '../helpers/scenarios';
import { statusQuery } from '../../workflows';
import type { RequestedPolicy } from '../../domain/policy';

describe('drift: a VM that leaves write-through during the backup', () => {
  let h: Harness;
  const taskQueue = uniqueId('drift');

  before(async () => {
    h = await startHarness();
    await h.startWorker(taskQueue, guardWorkerEnv);
  });
  after(async () => h?.stop());

  test('an admin sets write-back mid-job: reported on the run (PolicyDrift), protected again, given the admin policy back', async () => {
    await h.lab.client.loadScenario(scenario({ taskMs: 2500 }));
    const before = await requestedPolicies(h.lab);
    const handle = await h.start(taskQueue, fastRequest(JOB));
    await waitFor('the job to be running', async () =>
      (await sessionsOf(h.lab, JOB)).some((s) => s.state === 'Working' && s.progress > 0),
    );
    const target = 'web-01';
    const adminPolicy: RequestedPolicy = { mode: 'WriteBack', peers: 2, externalPeers: null };
    assert.notDeepEqual(before.get(target), adminPolicy, 'the admin sets another policy than the recorded one');
    await h.lab.client.setVmPolicy(target, adminPolicy);

    // The guard sees it within a check period and the run shows it while the job still runs.
    const status = await waitFor('the run to show the drift', async () => {
      const s = await handle.query(statusQuery);
      return s.vms.find((vm) => vm.vm === target)?.drift ? s : undefined;
    });
    assert.match(String(status.vms.find((vm) => vm.vm === target)?.drift), /left write-through .*WriteBack/);
    await waitFor('the guard to protect it again', async () => (await guardState(h.env.client, target))?.flushed);

    const failure = await handle.result().then(
      () => assert.fail('the run must not report success'),
      (err: unknown) => err,
    );
    assert.ok(failure instanceof WorkflowFailedError);
    assert.ok(failure.cause instanceof ApplicationFailure);
    assert.equal(failure.cause.type, 'PolicyDrift');
    assert.match(failure.cause.message, new RegExp(`"${target}".*may not be consistent`));

    const after = await requestedPolicies(h.lab);
    assert.deepEqual(after.get(target), adminPolicy, "the admin's policy is the one the VM ends with");
    for (const [vm, policy] of before) if (vm !== target) assert.deepEqual(after.get(vm), policy, `${vm} restored`);
    assert.equal((await sessionsOf(h.lab, JOB)).length, 1, 'one session');
  });
});
