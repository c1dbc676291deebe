/**
 * Runs and guards that close without cleaning up: Temporal runs no workflow code on Terminate, on
 * a workflow run timeout, or for the run a Reset replaces. The per-VM guard notices a holder that
 * closed (within one check period), waits until the Veeam job it left behind is over, and restores;
 * a reset run keeps its hold; a guard terminated under a live run is succeeded by one that adopts
 * its record when the run releases.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fastRequest, fastVeeam, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertConsistentSessions, assertPoliciesAre, requestedPolicies, sessionsOf } from '../helpers/lab-assertions';
import { guardId, guardRuns, guardState, guardWorkerEnv, waitFor, windowsSince } from '../helpers/guard';
import { JOB, scenario, vmNames } from '../helpers/scenarios';
import { temporalCli } from '../helpers/tools';
import { protectedBackup, statusQuery } from '../../workflows';
import type { VmGuardResult } from '../../domain/guard-protocol';

/** One check period of the test worker, plus the job-poll and restore round trips. */
const CHECK_PERIOD_MS = 1000;
const SLACK_MS = 2500;

describe('per-VM guard: holders and guards that close without cleaning up', () => {
  let h: Harness;
  const taskQueue = uniqueId('closed');

  before(async () => {
    h = await startHarness();
    await h.startWorker(taskQueue, guardWorkerEnv);
  });
  after(async () => h?.stop());

  /** A three-VM job (about 4.7 s by default); resolves once the job is running with a task done. */
  async function runUntilMidJob(options: { workflowRunTimeout?: string; taskMs?: number } = {}) {
    const s = scenario({ taskMs: options.taskMs ?? 1500 });
    await h.lab.client.loadScenario(s);
    const policies = await requestedPolicies(h.lab);
    const since = Date.now();
    const handle = await h.env.client.workflow.start(protectedBackup, {
      taskQueue,
      workflowId: uniqueId('holder'),
      // Every VM held until the job ends (no early release): what a closed holder leaves is the subject.
      args: [fastRequest(JOB, { veeam: { ...fastVeeam, release: 'session-end' } })],
      workflowRunTimeout: options.workflowRunTimeout,
    });
    await waitFor('the job to be running', async () =>
      (await sessionsOf(h.lab, JOB)).some((x) => x.state === 'Working' && x.progress > 0),
    );
    return { handle, policies, since, vms: vmNames(s) };
  }

  /** Every VM restored once the abandoned job ended, within one check period; the backup consistent. */
  async function assertRestoredAfterJob(policies: Map<string, unknown>, since: number, vms: string[]) {
    const [session] = await sessionsOf(h.lab, JOB);
    assert.ok(session, 'the job ran');
    for (const vm of vms) {
      const window = await waitFor(
        `${vm} restored`,
        async () => (await windowsSince(h.lab, vm, since)).find((w) => w.endedAt !== null),
        30_000,
      );
      assert.ok(window.endedAt !== null && window.endedAt >= session.endsAt, `${vm} restored after the job ended`);
      assert.ok(
        window.endedAt <= session.endsAt + CHECK_PERIOD_MS + SLACK_MS,
        `${vm} restored within one check period of the job's end (${window.endedAt - session.endsAt} ms)`,
      );
    }
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    await assertPoliciesAre(h.lab, policies as Awaited<ReturnType<typeof requestedPolicies>>);
    for (const vm of vms) {
      await waitFor(`the guard of ${vm} to complete`, async () => (await guardState(h.env.client, vm)) === undefined);
    }
  }

  test('a run terminated in the middle of its job: its VMs are restored once the job is over', async () => {
    const { handle, policies, since, vms } = await runUntilMidJob();
    await handle.terminate('test: terminated mid-job');
    await assertRestoredAfterJob(policies, since, vms);
  });

  test("a dead holder's job that Veeam cannot confirm over keeps its VMs in write-through until it can", async () => {
    const { handle, policies, since, vms } = await runUntilMidJob({ taskMs: 1000 });
    // Every session lookup fails for good (non-retryable) while the job runs on in Veeam: the
    // guard's wait for the dead holder's job cannot confirm it over.
    await h.lab.client.setFaults([
      {
        endpoint: 'veeam',
        op: 'Find-BackupSession',
        action: 'fail',
        category: 'permanent',
        type: 'InjectedLookupFault',
      },
    ]);
    await handle.terminate('test: terminated mid-job, Veeam lookups failing');
    const [session] = await sessionsOf(h.lab, JOB);
    assert.ok(session, 'the job ran');
    await waitFor(
      'the job to end in the lab',
      async () => Date.now() > session.endsAt + 3 * CHECK_PERIOD_MS + SLACK_MS,
    );
    for (const vm of vms) {
      const windows = await windowsSince(h.lab, vm, since);
      assert.ok(windows.length > 0 && windows.every((w) => w.endedAt === null), `${vm} is still in write-through`);
      assert.match(String((await guardState(h.env.client, vm))?.lastError), /cannot confirm .* no live session/);
    }
    const cleared = Date.now();
    await h.lab.client.setFaults([]);
    for (const vm of vms) {
      const window = await waitFor(
        `${vm} restored once Veeam answers`,
        async () => (await windowsSince(h.lab, vm, since)).find((w) => w.endedAt !== null),
        30_000,
      );
      assert.ok(
        window.endedAt !== null && window.endedAt >= cleared,
        `${vm} restored only after the lookups worked again`,
      );
    }
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    await assertPoliciesAre(h.lab, policies);
  });

  test('a run whose workflow run timeout fires mid-job: its VMs are restored once the job is over', async () => {
    const { handle, policies, since, vms } = await runUntilMidJob({ workflowRunTimeout: '15 seconds', taskMs: 8000 });
    await assert.rejects(handle.result());
    assert.equal((await handle.describe()).status.name, 'TIMED_OUT');
    await assertRestoredAfterJob(policies, since, vms);
  });

  test('a run reset mid-job keeps its hold: no early restore, consistent, restored at its end', async () => {
    const { handle, policies, since, vms } = await runUntilMidJob();
    // Reset re-runs the last workflow task in a new run and terminates the current one.
    execFileSync(temporalCli, [
      'workflow',
      'reset',
      '--address',
      h.env.address,
      '--workflow-id',
      handle.workflowId,
      '--type',
      'LastWorkflowTask',
      '--reason',
      'test: reset mid-job',
    ]);
    const latest = h.env.client.workflow.getHandle<typeof protectedBackup>(handle.workflowId);
    assert.notEqual((await latest.describe()).runId, handle.firstExecutionRunId, 'a new run');
    // Longer than a check period while the reset run's job goes on: nobody restores under it.
    await new Promise((r) => setTimeout(r, 3 * CHECK_PERIOD_MS));
    const report = await latest.result();
    assert.equal(report.phase, 'completed');
    const [session] = await sessionsOf(h.lab, JOB);
    for (const vm of vms) {
      const windows = await windowsSince(h.lab, vm, since);
      assert.equal(windows.length, 1, `one write-through window for ${vm}`);
      assert.ok(session && windows[0]?.endedAt && windows[0].endedAt >= session.endsAt, `${vm} held until the end`);
    }
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    await assertPoliciesAre(h.lab, policies);
    assert.deepEqual(new Set(report.vms.map((v) => v.step)), new Set(['restored']));
    for (const vm of vms) {
      const guard = await h.env.client.workflow.getHandle(guardId(vm)).result();
      assert.equal((guard as VmGuardResult).counts.droppedHolders, 0, `the guard of ${vm} never dropped the reset run`);
    }
  });

  test("a guard terminated under a live run: the run's release starts a successor that adopts the record", async () => {
    const { handle, policies, since, vms } = await runUntilMidJob();
    const vm = vms[0] as string;
    const terminated = await h.env.client.workflow.getHandle(guardId(vm)).describe();
    await h.env.client.workflow.getHandle(guardId(vm)).terminate('test: guard terminated');
    assert.equal((await handle.query(statusQuery)).phase, 'backing-up', 'the run goes on');
    const report = await handle.result();
    assert.equal(report.phase, 'completed');
    assert.equal(report.vms.find((v) => v.vm === vm)?.step, 'restored');
    const [session] = await sessionsOf(h.lab, JOB);
    const windows = await windowsSince(h.lab, vm, since);
    assert.equal(windows.length, 1);
    assert.ok(session && windows[0]?.endedAt && windows[0].endedAt >= session.endsAt, `${vm} restored at the end`);
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    await assertPoliciesAre(h.lab, policies);
    const successor = (await h.env.client.workflow.getHandle(guardId(vm)).result()) as VmGuardResult;
    assert.equal(successor.adoptedFrom, terminated.runId, 'the successor adopted the terminated guard record');
    const runs = await guardRuns(h.env.client, vm, since);
    assert.deepEqual(
      runs.map((r) => r.status),
      ['COMPLETED', 'TERMINATED'],
    );
  });
});
