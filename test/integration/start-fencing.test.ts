/**
 * A failed start never restores under a live job. The lab's session-appearance delay makes Veeam
 * start a session that lookups do not show yet; the start's answer is then lost or fails. The run
 * must re-attach to that session or stop it, and in every case restore only once nothing reads the
 * disks: every backup consistent, one session, every policy back after the session ended.
 * Real Temporal dev server, real worker process, the lab behind the real PowerShell boundary.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import type { ScenarioInput } from '../../lab/scenario';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertConsistentSessions, assertPoliciesAre, requestedPolicies, sessionsOf } from '../helpers/lab-assertions';
import { JOB, scenario, vmNames } from '../helpers/scenarios';
import { statusQuery } from '../../workflows';
import { startFailsAfterItTookEffect } from '../helpers/faults';

/**
 * Sessions of the job appear in lookups `appearMs` after the start. Start-BackupJob answers at once
 * with the sessions listed before it; the worker looks for the new one for 30 s (activities/veeam.ts).
 */
function slowToAppear(appearMs: number, startDelayMs: number): ScenarioInput {
  const base = scenario();
  return {
    ...base,
    veeam: {
      ...base.veeam,
      jobs: (base.veeam?.jobs ?? []).map((job) => ({ ...job, sessionAppearDelayMs: appearMs, startDelayMs })),
    },
  };
}

async function failureOf(promise: Promise<unknown>): Promise<{ message: string; type: string | undefined }> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof WorkflowFailedError, `expected a failed workflow, got ${String(err)}`);
    const cause = err.cause as { message: string; type?: string } | undefined;
    return { message: String(cause?.message), type: cause?.type };
  }
  assert.fail('the run was expected to fail');
}

describe('a failed start never restores under a live job', () => {
  let h: Harness;
  const taskQueue = uniqueId('start-fencing');

  before(async () => {
    h = await startHarness();
    await h.startWorker(taskQueue);
  });
  after(async () => h?.stop());

  async function load(input: ScenarioInput) {
    await h.lab.client.loadScenario(input);
    return { vms: vmNames(input), policies: await requestedPolicies(h.lab) };
  }

  /**
   * No VM left write-through (a restore) before Veeam had read it in every session of the job: a
   * VM goes back as soon as its own task is done (early release), never while a task reads it.
   */
  async function assertRestoredOnlyAfterRead(): Promise<void> {
    const verdicts = await h.lab.client.verdicts({ job: JOB });
    for (const vm of await h.lab.client.timeline()) {
      const reads = verdicts.filter((v) => v.vm === vm.vm).map((v) => v.readUntil ?? Infinity);
      assert.ok(reads.length > 0, `${vm.vm} was backed up`);
      for (const window of vm.writeThroughWindows) {
        assert.ok(window.endedAt !== null, `${vm.vm} was restored`);
        assert.ok(
          window.endedAt >= Math.max(...reads),
          `${vm.vm} restored at ${window.endedAt}, before Veeam finished reading it at ${Math.max(...reads)}`,
        );
      }
    }
  }

  /** No VM left write-through (a restore) before every session of the job had ended. */
  async function assertRestoredOnlyAfterSessionsEnded(): Promise<void> {
    const sessions = await sessionsOf(h.lab, JOB);
    const lastEnd = Math.max(...sessions.map((s) => s.endsAt));
    for (const vm of await h.lab.client.timeline()) {
      for (const window of vm.writeThroughWindows) {
        assert.ok(window.endedAt !== null, `${vm.vm} was restored`);
        assert.ok(
          window.endedAt >= lastEnd,
          `${vm.vm} restored at ${window.endedAt}, before the session ended at ${lastEnd}`,
        );
      }
    }
  }

  test('the start answer is lost and its session is not visible yet: the run re-attaches once it shows', async () => {
    const { vms, policies } = await load(slowToAppear(2_000, 2_500));
    // The host performs the start, then dies: no answer, and for 2 s no session in any lookup.
    await h.lab.client.setFaults([{ op: 'Start-BackupJob', action: 'die', times: 1, afterEffect: true }]);
    const handle = await h.start(taskQueue, fastRequest(JOB));
    const report = await handle.result();
    assert.equal(report.phase, 'completed');
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    const [session] = await sessionsOf(h.lab, JOB);
    assert.equal(report.backup.sessionId, session?.id, 'the run followed the session its lost start created');
    assert.ok(report.warnings.some((w) => /attached to session/.test(w)));
    await assertRestoredOnlyAfterRead();
    await assertPoliciesAre(h.lab, policies);
  });

  test('the session shows only after a few polls: the start itself finds and follows it, one start', async () => {
    const { vms, policies } = await load(slowToAppear(1_200, 2_500));
    const report = await (await h.start(taskQueue, fastRequest(JOB))).result();
    assert.equal(report.phase, 'completed');
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    const [session] = await sessionsOf(h.lab, JOB);
    assert.equal(report.backup.sessionId, session?.id, 'the run followed the session it started');
    assert.ok(!report.warnings.some((w) => /attached to session/.test(w)), 'found by the start, not re-attached');
    const { invocations } = await h.lab.client.invocations({ op: 'Start-BackupJob' });
    assert.deepEqual(
      invocations.map((i) => i.response),
      ['ok'],
      'one start, answered at once',
    );
    await assertRestoredOnlyAfterRead();
    await assertPoliciesAre(h.lab, policies);
  });

  test('the start fails non-retryable after it took effect: the session is stopped before any restore', async () => {
    const { policies } = await load(slowToAppear(1_500, 3_000));
    await h.lab.client.setFaults([startFailsAfterItTookEffect]);
    const handle = await h.start(taskQueue, fastRequest(JOB));
    const failure = await failureOf(handle.result());
    assert.equal(failure.type, 'System.InvalidOperationException', 'the start failure is what the run reports');
    const sessions = await sessionsOf(h.lab, JOB);
    assert.equal(sessions.length, 1);
    const [session] = sessions;
    assert.ok(session && session.state === 'Stopped' && session.stopRequestedAt !== null, 'the session was stopped');
    const verdicts = await h.lab.client.verdicts({ job: JOB });
    assert.deepEqual(
      verdicts.filter((v) => !v.consistent).map((v) => `${v.vm}: ${v.reason}`),
      [],
      'no inconsistent backup',
    );
    await assertRestoredOnlyAfterSessionsEnded();
    await assertPoliciesAre(h.lab, policies);
    const status = await handle.query(statusQuery);
    assert.ok(status.warnings.some((w) => /making sure nothing it may have started runs/.test(w)));
  });

  test('the host dies before the start took effect: once the job stayed idle, one fenced start again', async () => {
    const { vms, policies } = await load(slowToAppear(1_000, 100));
    await h.lab.client.setFaults([{ op: 'Start-BackupJob', action: 'die', times: 1 }]);
    const report = await (await h.start(taskQueue, fastRequest(JOB))).result();
    assert.equal(report.phase, 'completed');
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    const { invocations } = await h.lab.client.invocations({ op: 'Start-BackupJob' });
    assert.deepEqual(
      invocations.map((i) => i.response),
      ['die', 'ok'],
      'the second start ran, and the worker found its session once it showed',
    );
    await assertRestoredOnlyAfterSessionsEnded();
    await assertPoliciesAre(h.lab, policies);
  });

  test('a start refused before it took effect: nothing runs, the run fails and restores', async () => {
    const { policies } = await load(slowToAppear(0, 100));
    await h.lab.client.setFaults([
      { op: 'Start-BackupJob', action: 'fail', times: 1, category: 'permanent', type: 'JobNotFound' },
    ]);
    const failure = await failureOf((await h.start(taskQueue, fastRequest(JOB))).result());
    assert.equal(failure.type, 'JobNotFound');
    assert.equal((await sessionsOf(h.lab, JOB)).length, 0, 'no session');
    await assertPoliciesAre(h.lab, policies);
  });
});
