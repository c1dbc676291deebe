/**
 * Identity, not names (issue 10 item 4), the guard side, with the real dev server, a worker
 * process and the lab: a VM's guard is keyed on its FVP uuid, so a VM renamed in vCenter during or
 * between runs keeps its guard and its record; and an upgrade never makes two guards for one VM (a
 * running name-keyed guard keeps holding it) nor forgets what a terminated name-keyed guard left
 * in write-through (the first uuid-keyed guard adopts it, and the reconciler counts it settled).
 *
 * The name-keyed guards of older workers are made the way those workers made them: a
 * signal-with-start of an `acquire` at `vm-guard/<server>/<vm>`, for a holder that is a workflow
 * of its own (on a task queue no worker polls: it stays Running, as a holding run does).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError, WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { protectedBackup } from '../../workflows';
import type { RunReport } from '../../workflows/status';
import type { RequestedPolicy } from '../../domain/policy';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { requestedPolicies, sessionsOf } from '../helpers/lab-assertions';
import { guardId, guardWorkerEnv, FVP_SERVER, labUuid, legacyGuardId, waitFor } from '../helpers/guard';
import { JOB, scenario } from '../helpers/scenarios';
import type { ScenarioInput } from '../../lab/scenario';
import {
  vmGuardRequestSignal,
  vmGuardStateQuery,
  VM_GUARD_WORKFLOW_TYPE,
  type GuardMemo,
  type GuardRequest,
  type Requester,
  type VmGuardInput,
  type VmGuardResult,
} from '../../domain/guard-protocol';
import { defaultGuardTimeouts } from '../../workflows/step-timeouts';
import { readGuardStatus } from '../../client/guard/status';
import { runReconciler } from '../../client/guard/reconcile';

const VM = 'sql-01';
const RENAMED = 'sql-01 (renamed)';

/** The status of a workflow id's latest run, or null when it never existed (describe: no lag). */
async function statusOf(client: Client, workflowId: string): Promise<string | null> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}

/** The status of a workflow id's latest run if it started at or after `since` (epoch ms), else null. */
async function statusSince(client: Client, workflowId: string, since: number): Promise<string | null> {
  try {
    const described = await client.workflow.getHandle(workflowId).describe();
    return described.startTime.getTime() >= since ? described.status.name : null;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}

/** A run's report; a failed run fails the test with its own message. */
async function reportOf(handle: WorkflowHandle<typeof protectedBackup>): Promise<RunReport> {
  try {
    return await handle.result();
  } catch (err) {
    const cause = err instanceof WorkflowFailedError ? err.cause : err;
    assert.fail(`the run failed: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** The closed guard's memo, once its latest run has completed. */
async function completedMemo(client: Client, workflowId: string): Promise<GuardMemo> {
  return waitFor(`guard ${workflowId} to complete`, async () => {
    const described = await client.workflow.getHandle(workflowId).describe();
    return described.status.name === 'COMPLETED' ? (described.memo as unknown as GuardMemo) : undefined;
  });
}

/**
 * The job built from a vSphere folder of its VMs: expanded, it lists a renamed VM under its new
 * name (Get-VBRJobObject of a VM added by name keeps the name it was added with: lab/model/rename.ts).
 */
function inFolder(input: ScenarioInput): ScenarioInput {
  const jobs = (input.veeam?.jobs ?? []).map((job) => ({
    ...job,
    vms: [],
    objects: [{ type: 'Folder', name: 'Production', vms: job.vms ?? [] }],
  }));
  return { ...input, veeam: { ...input.veeam, jobs } };
}

describe('guards keyed on the VM identity', () => {
  let h: Harness;
  const taskQueue = uniqueId('vm-identity');
  /** Where the stand-in holders "run": no worker polls it, so they stay Running until terminated. */
  const idleQueue = uniqueId('nobody-polls');

  before(async () => {
    h = await startHarness();
    await h.startWorker(taskQueue, guardWorkerEnv);
  });
  after(async () => h?.stop());

  /** A workflow that holds `vm` through the name-keyed guard an older worker would have started. */
  async function legacyHolder(vm: string): Promise<{ requester: Requester; guard: string }> {
    const holder = await h.env.client.workflow.start('standInHolder', {
      taskQueue: idleQueue,
      workflowId: uniqueId('stand-in-holder'),
    });
    const requester = {
      workflowId: holder.workflowId,
      runId: holder.firstExecutionRunId,
      firstRunId: holder.firstExecutionRunId,
    };
    const guard = legacyGuardId(vm);
    const acquire: GuardRequest = { kind: 'acquire', requester, job: 'Stand-in-Job', timeouts: defaultGuardTimeouts() };
    await h.env.client.workflow.signalWithStart(VM_GUARD_WORKFLOW_TYPE, {
      workflowId: guard,
      taskQueue,
      args: [{ vm, fvpServer: FVP_SERVER } satisfies VmGuardInput],
      signal: vmGuardRequestSignal,
      signalArgs: [acquire],
      memo: { kind: 'vm-guard', vm, fvpServer: FVP_SERVER },
    });
    await waitFor('the name-keyed guard to grant its holder', async () => {
      if ((await statusOf(h.env.client, guard)) !== 'RUNNING') return undefined;
      const state = await h.env.client.workflow.getHandle(guard).query(vmGuardStateQuery);
      return state.holders.some((x) => x.granted) ? state : undefined;
    });
    assert.notEqual((await requestedPolicies(h.lab)).get(vm)?.mode, 'WriteBack', 'the old guard switched it');
    return { requester, guard };
  }

  test('a VM renamed in vCenter while its job runs keeps its one guard, which restores the recorded policy on the renamed VM', async () => {
    await h.lab.client.loadScenario(scenario({ taskMs: 4000 }));
    const before = await requestedPolicies(h.lab);
    const since = Date.now();
    const handle = await h.start(taskQueue, fastRequest(JOB));
    await waitFor('the job to be running', async () =>
      (await sessionsOf(h.lab, JOB)).some((s) => s.state === 'Working' && s.progress > 0),
    );
    assert.equal(await statusOf(h.env.client, guardId(VM)), 'RUNNING', 'the uuid-keyed guard holds it');
    await h.lab.client.renameVm(VM, RENAMED);

    const report = await reportOf(handle);
    assert.equal(report.phase, 'completed', String(report.error));
    const vm = report.vms.find((v) => v.vm === VM);
    assert.equal(vm?.guardId, guardId(VM));
    assert.equal(vm?.step, 'restored', String(vm?.lastError));
    // The recorded policy is back on the renamed VM; no VM of the old name is left.
    const after = await requestedPolicies(h.lab);
    assert.deepEqual(after.get(RENAMED), before.get(VM));
    assert.equal(after.has(VM), false);
    // One guard, the uuid-keyed one, which took the new name; none ever under either name.
    const memo = await completedMemo(h.env.client, guardId(VM));
    assert.equal(memo.vm, RENAMED);
    assert.equal(memo.record.writeThrough, false);
    assert.equal(await statusSince(h.env.client, legacyGuardId(VM), since), null);
    assert.equal(await statusSince(h.env.client, legacyGuardId(RENAMED), since), null);
  });

  test('a VM renamed between two runs of its job: the second run holds it through the same guard, whose memo carries the new name', async () => {
    await h.lab.client.loadScenario(inFolder(scenario()));
    const before = await requestedPolicies(h.lab);
    const since = Date.now();
    const first = await reportOf(await h.start(taskQueue, fastRequest(JOB)));
    assert.equal(first.phase, 'completed');
    assert.equal(first.vms.find((v) => v.vm === VM)?.guardId, guardId(VM));
    await completedMemo(h.env.client, guardId(VM));

    await h.lab.client.renameVm(VM, RENAMED);
    const second = await reportOf(await h.start(taskQueue, fastRequest(JOB)));
    assert.equal(second.phase, 'completed', String(second.error));
    const renamed = second.vms.find((v) => v.vm === RENAMED);
    assert.equal(renamed?.guardId, guardId(VM), 'the same guard id: keyed on the uuid, not the name');
    assert.equal(renamed?.step, 'restored');
    assert.equal((await completedMemo(h.env.client, guardId(VM))).vm, RENAMED);
    assert.deepEqual((await requestedPolicies(h.lab)).get(RENAMED), before.get(VM));
    assert.equal(await statusSince(h.env.client, legacyGuardId(RENAMED), since), null);
  });

  test('upgrade: a running name-keyed guard keeps holding its VM; the new run joins it, and the VM is restored only when both released', async () => {
    await h.lab.client.loadScenario(scenario());
    const before = await requestedPolicies(h.lab);
    const since = Date.now();
    const { requester, guard } = await legacyHolder(VM);
    try {
      await joinsTheRunningGuard(before, requester, guard, since);
    } finally {
      // Whatever happened, nothing of this test holds the VM for the next one.
      await h.env.client.workflow
        .getHandle(requester.workflowId)
        .terminate('test: stand-in holder done')
        .catch(() => undefined);
      if ((await statusOf(h.env.client, guard)) === 'RUNNING')
        await h.env.client.workflow.getHandle(guard).terminate('test: cleanup');
    }
  });

  async function joinsTheRunningGuard(
    before: Map<string, RequestedPolicy>,
    requester: Requester,
    guard: string,
    since: number,
  ): Promise<void> {
    const report = await reportOf(await h.start(taskQueue, fastRequest(JOB)));
    assert.equal(report.phase, 'completed', String(report.error));
    const vm = report.vms.find((v) => v.vm === VM);
    assert.equal(vm?.guardId, guard, 'held through the running name-keyed guard');
    assert.equal(vm?.step, 'released', 'another holder still holds it: not restored by this run');
    // Exactly one guard for the VM: the old one; no uuid-keyed guard was ever started.
    assert.equal(await statusOf(h.env.client, guard), 'RUNNING');
    assert.equal(await statusSince(h.env.client, guardId(VM), since), null);
    assert.notEqual((await requestedPolicies(h.lab)).get(VM)?.mode, 'WriteBack', 'still held: write-through');
    // The other VMs of the job had uuid-keyed guards and are back.
    for (const other of ['app-01', 'web-01']) {
      assert.equal(report.vms.find((v) => v.vm === other)?.guardId, guardId(other));
      assert.deepEqual((await requestedPolicies(h.lab)).get(other), before.get(other));
    }

    // The first holder lets go: the last release restores the recorded write-back.
    await h.env.client.workflow.getHandle(guard).signal(vmGuardRequestSignal, { kind: 'release', requester });
    await h.env.client.workflow.getHandle(guard).result();
    assert.deepEqual((await requestedPolicies(h.lab)).get(VM), before.get(VM));
  }

  test('upgrade: a name-keyed guard terminated while holding its VM in write-through: the first uuid-keyed guard adopts its record and restores it; the reconciler finds nothing left', async () => {
    await h.lab.client.loadScenario(scenario());
    const before = await requestedPolicies(h.lab);
    assert.equal(before.get(VM)?.mode, 'WriteBack');
    const { requester, guard } = await legacyHolder(VM);
    const terminated = await h.env.client.workflow.getHandle(guard).describe();
    await h.env.client.workflow.getHandle(guard).terminate('test: old guard terminated');
    await h.env.client.workflow.getHandle(requester.workflowId).terminate('test: its holder is gone too');
    assert.notEqual((await requestedPolicies(h.lab)).get(VM)?.mode, 'WriteBack', 'left in write-through');
    // The closed run is visible to look-ups before the next run (the lag is another test's subject).
    await waitFor('the terminated guard to be listed', async () => {
      for await (const info of h.env.client.workflow.list({
        query: `WorkflowId = '${guard}' AND ExecutionStatus = 'Terminated'`,
      }))
        return info;
      return undefined;
    });

    const report = await reportOf(await h.start(taskQueue, fastRequest(JOB)));
    assert.equal(report.phase, 'completed', String(report.error));
    const vm = report.vms.find((v) => v.vm === VM);
    assert.equal(vm?.guardId, guardId(VM), 'the old guard is closed: the uuid-keyed one');
    assert.deepEqual(vm?.recorded, before.get(VM), 'granted with the old guard record, not write-through');
    assert.equal(vm?.step, 'restored');
    const result = (await h.env.client.workflow.getHandle(guardId(VM)).result()) as VmGuardResult;
    assert.equal(result.adoptedFrom, terminated.runId);
    assert.deepEqual((await requestedPolicies(h.lab)).get(VM), before.get(VM), 'its write-back is back');
    // The terminated name-keyed guard is settled by the uuid-keyed one that names it.
    await waitFor('guard status to list nothing unrestored', async () =>
      (await readGuardStatus(h.env.client)).unrestored.length === 0 ? true : undefined,
    );
    assert.equal((await runReconciler(h.env.client, { taskQueue })).found, 0);
    assert.equal(await statusOf(h.env.client, guard), 'TERMINATED', 'no successor of the old id was started');
  });
  test("a uuid-keyed guard terminated in write-through, its VM then renamed: the reconciler's successor finds it by uuid and restores it under its new name", async () => {
    await h.lab.client.loadScenario(scenario({ taskMs: 2000 }));
    const before = await requestedPolicies(h.lab);
    const run = await h.start(taskQueue, fastRequest(JOB));
    await waitFor('the job to be running', async () =>
      (await sessionsOf(h.lab, JOB)).some((s) => s.state === 'Working' && s.progress > 0),
    );
    // Nobody is left to release it: the guard and its holder both terminated, the VM in write-through.
    await h.env.client.workflow.getHandle(guardId(VM)).terminate('test: guard terminated');
    await run.terminate('test: run terminated');
    await h.lab.client.renameVm(VM, RENAMED);
    assert.notEqual((await requestedPolicies(h.lab)).get(RENAMED)?.mode, 'WriteBack');
    const listed = await waitFor('guard status to list the terminated guard', async () => {
      const { unrestored } = await readGuardStatus(h.env.client);
      return unrestored.find((g) => g.guardId === guardId(VM));
    });
    assert.equal(listed.vm, VM, 'its memo still has the old name');

    const report = await runReconciler(h.env.client, { taskQueue });
    assert.equal(report.found, 1);
    const memo = await completedMemo(h.env.client, guardId(VM));
    assert.equal(memo.vm, RENAMED, 'the successor followed the rename');
    assert.deepEqual((await requestedPolicies(h.lab)).get(RENAMED), before.get(VM), 'its write-back is back');
  });
  test('two VMs of a run with one FVP uuid: the run fails before anything changes (one guard cannot hold both)', async () => {
    await h.lab.client.loadScenario(
      scenario({ vm: (vm) => (vm.name === 'web-01' ? { ...vm, uuid: labUuid(VM) } : vm) }),
    );
    const before = await requestedPolicies(h.lab);
    const since = Date.now();
    const handle = await h.start(taskQueue, fastRequest(JOB));
    // Without the check the run waits for a reply one guard never sends for the second VM: bounded.
    const failure = await Promise.race([
      handle.result().then(
        () => assert.fail('the run must not protect two VMs through one guard'),
        (err: unknown) => err,
      ),
      new Promise((resolve) => setTimeout(resolve, 60_000, 'still running')),
    ]);
    if (failure === 'still running') {
      await handle.terminate('test: did not fail fast');
      assert.fail('the run did not fail before anything changed');
    }
    assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof ApplicationFailure);
    assert.equal(failure.cause.type, 'UnknownVm');
    assert.match(failure.cause.message, /share.* an FVP uuid/);
    assert.deepEqual(await requestedPolicies(h.lab), before, 'nothing was changed');
    assert.equal(await statusSince(h.env.client, guardId(VM), since), null, 'no guard was started');
  });
});
