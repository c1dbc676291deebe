/**
 * Job containers (issue 10 item 1): a Veeam job built from a folder and a tag, with one VM
 * excluded, is resolved to exactly the VMs Veeam processes (containers expanded in the inventory,
 * exclusion applied): those are protected, backed up consistently and restored, and nothing else is
 * touched. A job with a container type the product has no rule for fails before anything changes,
 * naming the container. Real dev server, a real worker process, the lab (whose Get-BackupJob
 * returns the containers unexpanded and whose sessions process the VMs inside them).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertNothingChanged, assertPoliciesAre, requestedPolicies, sessionsOf } from '../helpers/lab-assertions';
import { JOB, scenario } from '../helpers/scenarios';
import type { ScenarioInput, ScenarioJobObject } from '../../lab/scenario';
import type { ScenarioVm } from '../../lab/scenario';

/** The processed VMs: SQL folder (sql-01, sql-02) and Web tag (web-01, app-01, web-02), less web-02. */
const EXPANDED = ['app-01', 'sql-01', 'sql-02', 'web-01'];

/** The demo's VMs plus sql-02, web-02 (excluded) and other-01 (in no job), all in write-back. */
function withContainers(objects: Array<Partial<ScenarioJobObject> & { type: string; name: string }>): ScenarioInput {
  const base = scenario();
  const template = base.fvp?.vms?.[0] as ScenarioVm;
  const extra = ['sql-02', 'web-02', 'other-01'].map((name) => ({ ...template, name }));
  return {
    ...base,
    fvp: { ...base.fvp, vms: [...(base.fvp?.vms ?? []), ...extra] },
    veeam: {
      ...base.veeam,
      jobs: (base.veeam?.jobs ?? []).map((job) => ({ ...job, vms: [], objects })),
    },
  };
}

const FOLDER_TAG_EXCLUSION = [
  { type: 'Folder', name: 'SQL', vms: ['sql-01', 'sql-02'] },
  { type: 'Tag', name: 'Web', vms: ['web-01', 'app-01', 'web-02'] },
  { type: 'VirtualMachine', name: 'web-02', exclude: true },
];

function applicationFailure(err: unknown): ApplicationFailure | undefined {
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    if (e instanceof ApplicationFailure) return e;
  }
  return undefined;
}

describe('jobs built from containers', () => {
  let h: Harness;
  const taskQueue = uniqueId('containers');

  before(async () => {
    h = await startHarness();
    await h.startWorker(taskQueue);
  });
  after(async () => h?.stop());

  test('folder + tag with one excluded VM: exactly the expanded VMs are protected, consistent and restored', async () => {
    await h.lab.client.loadScenario(withContainers(FOLDER_TAG_EXCLUSION));
    const policies = await requestedPolicies(h.lab);
    const report = await (await h.start(taskQueue, fastRequest(JOB))).result();
    assert.equal(report.phase, 'completed');
    assert.deepEqual(report.vms.map((vm) => vm.vm).sort(), EXPANDED);
    for (const vm of report.vms) assert.ok(vm.writeThroughAt !== null, `${vm.vm} was switched to write-through`);

    const { invocations } = await h.lab.client.invocations();
    const switched = new Set(
      invocations.filter((i) => i.op === 'Set-VmWriteThrough').map((i) => (i.args as { vm: string }).vm),
    );
    assert.deepEqual([...switched].sort(), EXPANDED, 'only the VMs Veeam processes were switched');

    const [session] = await sessionsOf(h.lab, JOB);
    assert.ok(session);
    const verdicts = await h.lab.client.verdicts({ sessionId: session.id });
    assert.deepEqual(verdicts.map((v) => v.vm).sort(), EXPANDED, 'the session read every VM of the containers');
    for (const v of verdicts) assert.equal(v.consistent, true, `${v.vm}: ${v.reason}`);
    await assertPoliciesAre(h.lab, policies);
  });

  test('a container type without a rule fails the run before anything changes, naming it and the fix', async () => {
    await h.lab.client.loadScenario(
      withContainers([...FOLDER_TAG_EXCLUSION, { type: 'StoragePod', name: 'Gold-DS', vms: ['other-01'] }]),
    );
    const policies = await requestedPolicies(h.lab);
    const failure = await (await h.start(taskQueue, fastRequest(JOB))).result().then(
      () => assert.fail('the run must not succeed'),
      (err: unknown) => err,
    );
    assert.ok(failure instanceof WorkflowFailedError);
    const cause = applicationFailure(failure);
    assert.ok(cause, String(failure));
    assert.equal(cause.type, 'JobContainerNotExpandable');
    assert.match(
      cause.message,
      /container "Gold-DS" \(StoragePod\) cannot be expanded to its VMs: .*add its VMs to the job individually, or correct the vendor-facts table/,
    );
    await assertNothingChanged(h.lab, policies, JOB);
  });
});
