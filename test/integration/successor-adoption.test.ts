/**
 * Successor guards without visibility lag (issue 10 item 6), with the real dev server, worker
 * processes and the lab. A guard terminated just before a new request arrives can still look
 * Running in visibility; its successor then cannot find its memo, finds the VM in write-through and
 * takes that for the VM's own policy. The dev server's own lag is too short to hit on demand, so
 * the worker models it (FVPB_TEST_VISIBILITY_LAG_MS, activities/vm-guard.ts): the successor's
 * look-up does not list a guard run closed less than that long ago, as a lagging store shows it
 * still Running. Everything else is real: the terminated guard, the runs, their jobs, the records
 * the requests carry, the reconciler.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fastRequest, fastVeeam, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertPoliciesAre, requestedPolicies, sessionsOf } from '../helpers/lab-assertions';
import { guardId, guardRuns, guardState, guardWorkerEnv, jobsScenario, waitFor, windowsSince } from '../helpers/guard';
import { formatGuardStatus, readGuardStatus } from '../../client/guard/status';
import { runReconciler } from '../../client/guard/reconcile';
import { protectedBackup } from '../../workflows';
import { adoptedFromRelease, type VmGuardResult } from '../../domain/guard-protocol';

const VM = 'sql-01';

describe('successor guards that cannot see their terminated predecessor', () => {
  let h: Harness;
  const taskQueue = uniqueId('successor');

  before(async () => {
    h = await startHarness();
    // Longer than each test: the terminated guard stays invisible to every successor's look-up.
    await h.startWorker(taskQueue, { ...guardWorkerEnv, FVPB_TEST_VISIBILITY_LAG_MS: '120000' });
  });
  after(async () => h?.stop());

  const start = (job: string) =>
    h.env.client.workflow.start(protectedBackup, {
      taskQueue,
      workflowId: uniqueId(job),
      args: [fastRequest(job, { veeam: { ...fastVeeam, release: 'session-end' } })],
    });

  /** Run 1 holds the VM through guard A (granted, write-through, its job running); A is terminated. */
  async function terminateGuardUnderRun() {
    const policies = await requestedPolicies(h.lab);
    const since = Date.now();
    const run1 = await start('Job-1');
    await waitFor('job 1 to be running', async () =>
      (await sessionsOf(h.lab, 'Job-1')).some((x) => x.state === 'Working' && x.progress > 0),
    );
    const guardA = await h.env.client.workflow.getHandle(guardId(VM)).describe();
    await h.env.client.workflow.getHandle(guardId(VM)).terminate('test: guard terminated');
    assert.notEqual((await requestedPolicies(h.lab)).get(VM)?.mode, 'WriteBack', 'left in write-through');
    return { policies, since, run1, guardARunId: guardA.runId };
  }

  test("a running successor that took write-through for the VM's own adopts the record the earlier run's release carries", async () => {
    await h.lab.client.loadScenario(
      jobsScenario([
        { name: 'Job-1', vms: [VM], taskMs: 3000 },
        { name: 'Job-2', vms: [VM], taskMs: 9000 },
      ]),
    );
    const { policies, since, run1 } = await terminateGuardUnderRun();
    // Run 2 right away: its acquire starts guard B, which cannot see A.
    const run2 = await start('Job-2');
    const blind = await waitFor('guard B to grant run 2', async () => {
      const state = await guardState(h.env.client, VM);
      return state && state.holders.some((x) => x.granted) ? state : undefined;
    });
    assert.equal(blind.alreadyWriteThrough, true, 'B took the write-through for the VM policy (it did not see A)');
    assert.equal(blind.adoptedFrom, null);
    assert.deepEqual(
      blind.holders.map((x) => x.workflowId),
      [run2.workflowId],
      'run 1 is not one of B holders',
    );

    // Run 1's job ends first: its release, to B, carries A's record.
    assert.equal((await run1.result()).phase, 'completed');
    const adopted = await guardState(h.env.client, VM);
    assert.ok(adopted, 'B still runs for run 2');
    assert.equal(adopted.alreadyWriteThrough, false);
    assert.equal(adopted.writeThrough, true, 'B owes the write-back now');
    assert.deepEqual(adopted.recorded, policies.get(VM));
    const [session2] = await sessionsOf(h.lab, 'Job-2');
    assert.ok(session2 && session2.state !== 'Stopped', 'run 2 still holds the VM: nothing restored under it');
    assert.notEqual((await requestedPolicies(h.lab)).get(VM)?.mode, 'WriteBack');

    assert.equal((await run2.result()).phase, 'completed');
    const b = (await h.env.client.workflow.getHandle(guardId(VM)).result()) as VmGuardResult;
    assert.equal(
      b.adoptedFrom,
      adoptedFromRelease({ workflowId: run1.workflowId, firstRunId: run1.firstExecutionRunId }),
    );
    await assertPoliciesAre(h.lab, policies);
    const [window] = await windowsSince(h.lab, VM, since);
    const [ended2] = await sessionsOf(h.lab, 'Job-2');
    assert.ok(window?.endedAt && ended2 && window.endedAt >= ended2.endsAt, 'restored after run 2 job ended');
    assert.deepEqual(
      (await guardRuns(h.env.client, VM, since)).map((r) => r.status),
      ['COMPLETED', 'TERMINATED'],
    );
    // B took A's record over through run 1's release: nothing is left for the reconciler.
    assert.deepEqual((await readGuardStatus(h.env.client)).unrestored, []);
    assert.equal((await runReconciler(h.env.client, { taskQueue })).found, 0);
  });

  test('a successor that completed without adopting does not settle the terminated guard: the reconciler restores, then finds nothing', async () => {
    await h.lab.client.loadScenario(
      jobsScenario([
        { name: 'Job-1', vms: [VM], taskMs: 8000 },
        { name: 'Job-2', vms: [VM], taskMs: 300 },
      ]),
    );
    const { policies, since, run1, guardARunId } = await terminateGuardUnderRun();
    await run1.terminate('test: run 1 terminated too'); // nobody left to carry A's record
    const run2 = await start('Job-2');
    assert.equal((await run2.result()).phase, 'completed');
    const b = (await h.env.client.workflow.getHandle(guardId(VM)).result()) as VmGuardResult;
    assert.equal(b.adoptedFrom, null, 'B completed without adopting A (it could not see it)');
    assert.notEqual((await requestedPolicies(h.lab)).get(VM)?.mode, 'WriteBack', 'left in write-through by B');

    // B completed, but it did not take A's record over: A is still unrestored.
    const status = await waitFor('A to be listed unrestored', async () => {
      const found = await readGuardStatus(h.env.client);
      return found.unrestored.length > 0 ? found : undefined;
    });
    assert.deepEqual(
      status.unrestored.map((u) => [u.vm, u.runId]),
      [[VM, guardARunId]],
    );

    const report = await runReconciler(h.env.client, { taskQueue });
    assert.deepEqual(
      report.entries.map((e) => [e.vm, e.outcome]),
      [[VM, 'restored']],
    );
    await assertPoliciesAre(h.lab, policies);
    // A's dead holder's job was still reading the disks: the restore waited for it.
    const [session1] = await sessionsOf(h.lab, 'Job-1');
    const windows = await windowsSince(h.lab, VM, since);
    const last = windows.at(-1);
    assert.ok(session1 && last?.endedAt && last.endedAt >= session1.endsAt, 'restored after job 1 ended');
    const c = (await h.env.client.workflow.getHandle(guardId(VM)).result()) as VmGuardResult;
    assert.equal(c.adoptedFrom, guardARunId, 'the reconciled successor names A');

    const again = await runReconciler(h.env.client, { taskQueue });
    assert.equal(again.found, 0, 'settled: nothing left to reconcile');
    assert.deepEqual((await readGuardStatus(h.env.client)).unrestored, []);
  });

  test('a running successor that did not adopt is sent the record: held meanwhile, restored at its last release, then settled', async () => {
    await h.lab.client.loadScenario(
      jobsScenario([
        { name: 'Job-1', vms: [VM], taskMs: 3000 },
        { name: 'Job-2', vms: [VM], taskMs: 9000 },
      ]),
    );
    const { policies, since, run1, guardARunId } = await terminateGuardUnderRun();
    await run1.terminate('test: run 1 terminated too');
    const run2 = await start('Job-2');
    await waitFor('guard B to grant run 2', async () => {
      const state = await guardState(h.env.client, VM);
      return state?.holders.some((x) => x.granted) && state.alreadyWriteThrough;
    });
    const status = await waitFor('A to be listed unrestored beside its running successor', async () => {
      const found = await readGuardStatus(h.env.client);
      return found.unrestored.length > 0 ? found : undefined;
    });
    const [unrestored] = status.unrestored;
    assert.equal(unrestored?.runId, guardARunId);
    assert.equal(unrestored?.successor?.status, 'RUNNING');
    assert.match(formatGuardStatus(status).join('\n'), /its successor \S+ runs without this record/);

    const report = await runReconciler(h.env.client, { taskQueue });
    assert.deepEqual(
      report.entries.map((e) => [e.vm, e.outcome]),
      [[VM, 'held']],
    );
    const adopted = await guardState(h.env.client, VM);
    assert.equal(adopted?.adoptedFrom, guardARunId, 'B took A record over');
    assert.equal(adopted?.writeThrough, true);
    assert.notEqual((await requestedPolicies(h.lab)).get(VM)?.mode, 'WriteBack', 'nothing restored under run 2');
    assert.equal((await runReconciler(h.env.client, { taskQueue })).found, 0, 'owned by B now');

    assert.equal((await run2.result()).phase, 'completed');
    const b = (await h.env.client.workflow.getHandle(guardId(VM)).result()) as VmGuardResult;
    assert.equal(b.adoptedFrom, guardARunId);
    await assertPoliciesAre(h.lab, policies);
    const [window] = await windowsSince(h.lab, VM, since);
    const [session2] = await sessionsOf(h.lab, 'Job-2');
    assert.ok(window?.endedAt && session2 && window.endedAt >= session2.endsAt, 'restored after run 2 job ended');
    assert.equal((await runReconciler(h.env.client, { taskQueue })).found, 0);
  });
});
