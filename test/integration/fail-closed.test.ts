/**
 * Fail closed on VMs the run cannot match: a VM of the Veeam job that FVP does not know is an error
 * that names it (nothing is changed, nothing backed up), unless the input lists it in `outsideFvp`.
 * Real dev server, a real worker process, the lab (whose jobs may hold VMs FVP does not know).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertNothingChanged, assertPoliciesAre, requestedPolicies, sessionsOf } from '../helpers/lab-assertions';
import { JOB, scenario } from '../helpers/scenarios';
import type { ScenarioInput } from '../../lab/scenario';

/** The demo's job, plus a VM that only Veeam knows (no FVP cluster has it). */
function withOutsider(): ScenarioInput {
  const base = scenario();
  return {
    ...base,
    veeam: {
      ...base.veeam,
      jobs: (base.veeam?.jobs ?? []).map((job) => ({ ...job, vms: [...(job.vms ?? []), 'file-99'] })),
    },
  };
}

describe('fail closed: VMs of the job that FVP does not know', () => {
  let h: Harness;
  const taskQueue = uniqueId('closed');

  before(async () => {
    h = await startHarness();
    await h.startWorker(taskQueue);
  });
  after(async () => h?.stop());

  test('a job VM unknown to FVP fails the run before anything changes, naming it and the fix', async () => {
    await h.lab.client.loadScenario(withOutsider());
    const policies = await requestedPolicies(h.lab);
    const failure = await (await h.start(taskQueue, fastRequest(JOB))).result().then(
      () => assert.fail('the run must not succeed'),
      (err: unknown) => err,
    );
    assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof ApplicationFailure);
    assert.equal(failure.cause.type, 'UnknownVm');
    assert.match(failure.cause.message, /"file-99" of job "Nightly-SQL" is not known to FVP; .* outsideFvp/);
    await assertNothingChanged(h.lab, policies, JOB);
  });

  test('listed in outsideFvp, it is backed up as the operator said, and the others are protected', async () => {
    await h.lab.client.loadScenario(withOutsider());
    const policies = await requestedPolicies(h.lab);
    const report = await (await h.start(taskQueue, fastRequest(JOB, { outsideFvp: ['file-99'] }))).result();
    assert.equal(report.phase, 'completed');
    assert.equal(report.vms.find((vm) => vm.vm === 'file-99')?.step, 'skipped');
    const [session] = await sessionsOf(h.lab, JOB);
    assert.ok(session);
    for (const v of await h.lab.client.verdicts({ sessionId: session.id })) {
      if (v.vm !== 'file-99') assert.equal(v.consistent, true, `${v.vm}: ${v.reason}`);
    }
    await assertPoliciesAre(h.lab, policies);
  });

  test('a VM both to protect and outside FVP is refused as a bad input', async () => {
    const failure = await (
      await h.start(taskQueue, fastRequest(JOB, { vms: ['sql-01'], outsideFvp: ['sql-01'] }))
    )
      .result()
      .then(
        () => assert.fail('the run must not start its work'),
        (err: unknown) => err,
      );
    assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof ApplicationFailure);
    assert.equal(failure.cause.type, 'InvalidInput');
    assert.match(failure.cause.message, /outsideFvp: expected VMs to protect or VMs outside FVP, not both: "sql-01"/);
  });
});
