/**
 * Early release (issue 12 section 1): each VM gets its write-back back as soon as its Veeam task
 * ended with Success or Warning, while the session still runs; a failed task's VM, and every VM with
 * `veeam.release: 'session-end'`, waits for the session's end. Real dev server, a real worker
 * process, the lab with parallel task slots; the lab's verdict also fails a VM given write-back
 * while Veeam still read it, so "every verdict consistent" covers the release's timing too.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { fastRequest, fastVeeam, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertConsistentSessions, assertPoliciesAre, requestedPolicies, sessionsOf } from '../helpers/lab-assertions';
import { invocationsFor, windowsSince } from '../helpers/guard';
import { JOB, scenario, vmNames } from '../helpers/scenarios';
import { waitFor } from '../helpers/wait';
import type { ScenarioInput, VmTask } from '../../lab/scenario';
import type { RequestedPolicy } from '../../domain/policy';
import { statusQuery } from '../../workflows';
import type { RunReport } from '../../workflows/status';

/**
 * Four VMs, two task slots: vm-02's task is long, the others' short, so vm-01, vm-03 and vm-04 are
 * done (one slot, one after the other) long before the session ends with vm-02.
 */
function slotsScenario(vmTasks: Record<string, VmTask> = {}): ScenarioInput {
  const base = scenario({ vmCount: 4, destageMs: () => 300 });
  const job = base.veeam!.jobs![0]!;
  return {
    ...base,
    veeam: {
      ...base.veeam,
      jobs: [
        {
          ...job,
          taskSlots: 2,
          vmTasks: {
            'vm-01': { taskMs: 700 },
            'vm-02': { taskMs: 6000 },
            'vm-03': { taskMs: 700 },
            'vm-04': { taskMs: 700 },
            ...vmTasks,
          },
        },
      ],
    },
  };
}

const EARLY = ['vm-01', 'vm-03', 'vm-04'];

describe('early release: each VM back to write-back once Veeam is done with it', () => {
  let h: Harness;
  const taskQueue = uniqueId('early');

  before(async () => {
    h = await startHarness();
    await h.startWorker(taskQueue);
  });
  after(async () => h?.stop());

  async function load(input: ScenarioInput) {
    await h.lab.client.loadScenario(input);
    return { vms: vmNames(input), policies: await requestedPolicies(h.lab), since: Date.now() };
  }

  /** When `vm`'s write-through window that began at or after `since` ended (the restore). */
  async function restoredAt(vm: string, since: number): Promise<number> {
    const windows = await windowsSince(h.lab, vm, since);
    assert.equal(windows.length, 1, `one write-through window for ${vm}`);
    const ended = windows[0]?.endedAt;
    assert.ok(ended, `${vm} restored`);
    return ended;
  }

  async function onlySession() {
    const sessions = await sessionsOf(h.lab, JOB);
    assert.equal(sessions.length, 1, 'one session');
    return sessions[0]!;
  }

  /** Every VM restored exactly once: no VM released (and restored) twice. */
  async function assertRestoredOnce(vms: string[]): Promise<void> {
    for (const vm of vms)
      assert.equal(await invocationsFor(h.lab, 'Restore-VmCachePolicy', vm), 1, `${vm} restored once`);
  }

  test('a VM whose task ended is restored while the session still runs; every verdict consistent', async () => {
    const { vms, policies, since } = await load(slotsScenario());
    const handle = await h.start(taskQueue, fastRequest(JOB));
    // While vm-02 is still being read, the three others are back already.
    await waitFor('the VMs done early to be restored', async () => {
      const status = await handle.query(statusQuery);
      return EARLY.every((vm) => status.vms.find((v) => v.vm === vm)?.step === 'restored');
    });
    const mid = await handle.query(statusQuery);
    assert.equal(mid.phase, 'backing-up', 'the session still runs');
    assert.equal(mid.vms.find((v) => v.vm === 'vm-02')?.step, 'flushed', 'vm-02 still held');

    const report: RunReport = await handle.result();
    assert.equal(report.phase, 'completed');
    assert.deepEqual(report.warnings, []);
    const session = await onlySession();
    const verdicts = await h.lab.client.verdicts({ sessionId: session.id });
    for (const vm of EARLY) {
      const ended = await restoredAt(vm, since);
      const verdict = verdicts.find((v) => v.vm === vm);
      assert.ok(verdict?.readUntil, `a verdict for ${vm}`);
      assert.ok(ended >= verdict.readUntil, `${vm} restored only after its task ended`);
      assert.ok(ended < session.endsAt - 2000, `${vm} restored ${session.endsAt - ended} ms before the session ended`);
    }
    assert.ok((await restoredAt('vm-02', since)) >= session.endsAt, 'vm-02 restored after the session ended');
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    await assertPoliciesAre(h.lab, policies);
    await assertRestoredOnce(vms);

    // The report gives each VM's write-through window, from the switch to the release.
    for (const vm of report.vms) {
      assert.equal(vm.step, 'restored');
      assert.ok(vm.releasedAt && vm.writeThroughAt, `${vm.vm} has a window`);
      assert.equal(vm.writeThroughSeconds, (Date.parse(vm.releasedAt) - Date.parse(vm.writeThroughAt)) / 1000);
    }
    const window = (vm: string) => report.vms.find((v) => v.vm === vm)?.writeThroughSeconds ?? NaN;
    for (const vm of EARLY) assert.ok(window(vm) + 2 < window('vm-02'), `${vm}'s window is shorter than vm-02's`);
  });

  test("a failed task's VM stays in write-through until the session ends", async () => {
    const { vms, policies, since } = await load(slotsScenario({ 'vm-01': { taskMs: 700, outcome: 'Failed' } }));
    const handle = await h.start(taskQueue, fastRequest(JOB));
    const failure = await handle.result().then(
      () => assert.fail('a failed session fails the run'),
      (err: unknown) => err,
    );
    assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof ApplicationFailure);
    assert.equal(failure.cause.type, 'BackupJobFailed');
    const session = await onlySession();
    assert.equal(session.result, 'Failed');
    assert.ok((await restoredAt('vm-01', since)) >= session.endsAt, 'vm-01 (failed task) held until the end');
    assert.ok((await restoredAt('vm-02', since)) >= session.endsAt, 'vm-02 (still read) held until the end');
    for (const vm of ['vm-03', 'vm-04']) {
      assert.ok((await restoredAt(vm, since)) < session.endsAt - 2000, `${vm} (task done) released early`);
    }
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    await assertPoliciesAre(h.lab, policies);
    await assertRestoredOnce(vms);
  });

  test("release: 'session-end' keeps every VM until the session ends", async () => {
    const { vms, policies, since } = await load(slotsScenario());
    const report = await (
      await h.start(taskQueue, fastRequest(JOB, { veeam: { ...fastVeeam, release: 'session-end' } }))
    ).result();
    assert.equal(report.phase, 'completed');
    const session = await onlySession();
    for (const vm of vms) assert.ok((await restoredAt(vm, since)) >= session.endsAt, `${vm} held until the end`);
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    await assertPoliciesAre(h.lab, policies);
    await assertRestoredOnce(vms);
    const window = (vm: string) => report.vms.find((v) => v.vm === vm)?.writeThroughSeconds ?? NaN;
    for (const vm of vms) assert.ok(window(vm) >= 6, `${vm}'s window spans the session (${window(vm)} s)`);
  });

  test('cancelled mid-session after some VMs were released: the job is stopped, the rest restored, none twice', async () => {
    const { vms, policies, since } = await load(slotsScenario());
    const handle = await h.start(taskQueue, fastRequest(JOB));
    await waitFor('vm-01 released early', async () => {
      const status = await handle.query(statusQuery);
      return status.vms.find((v) => v.vm === 'vm-01')?.step === 'restored';
    });
    await handle.cancel();
    await assert.rejects(
      handle.result(),
      (err: unknown) => err instanceof WorkflowFailedError && /cancel/i.test(String(err.cause?.name)),
    );
    const session = await onlySession();
    assert.ok(session.state === 'Stopped' && session.stopRequestedAt !== null, 'the job was stopped');
    assert.ok(session.stopRequestedAt < session.createdAt + 6000, 'stopped while vm-02 was still read');
    assert.ok((await restoredAt('vm-01', since)) < session.stopRequestedAt, 'vm-01 was back before the cancel');
    assert.ok((await restoredAt('vm-02', since)) >= session.endsAt, 'vm-02 restored only after the session stopped');
    const status = await handle.query(statusQuery);
    assert.equal(status.phase, 'cancelled');
    assert.deepEqual(new Set(status.vms.map((v) => v.step)), new Set(['restored']));
    for (const verdict of await h.lab.client.verdicts({ sessionId: session.id })) {
      assert.equal(verdict.consistent, true, `${verdict.vm}: ${verdict.reason}`);
    }
    await assertPoliciesAre(h.lab, policies);
    await assertRestoredOnce(vms);
    assert.equal((await h.lab.client.invocations({ op: 'Stop-BackupJob' })).invocations.length, 1, 'one stop');
  });

  test('a VM that left write-through during its task is not released early: the run fails PolicyDrift', async () => {
    // vm-01's task is long enough to change its policy while Veeam reads it; the guard's own
    // holder check (a minute by default) does not come round before the task ends.
    const { vms, policies, since } = await load(slotsScenario({ 'vm-01': { taskMs: 2500 } }));
    const handle = await h.start(taskQueue, fastRequest(JOB));
    await waitFor('vm-01 to be read', async () =>
      (await sessionsOf(h.lab, JOB)).some((s) => s.tasks.some((t) => t.vm === 'vm-01' && t.status === 'InProgress')),
    );
    const adminPolicy: RequestedPolicy = { mode: 'WriteBack', peers: 2, externalPeers: null };
    await h.lab.client.setVmPolicy('vm-01', adminPolicy);
    const failure = await handle.result().then(
      () => assert.fail('the run must not report success'),
      (err: unknown) => err,
    );
    assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof ApplicationFailure);
    assert.equal(failure.cause.type, 'PolicyDrift');
    assert.match(failure.cause.message, /"vm-01" found out of write-through when its Veeam task ended/);
    // The lab agrees: vm-01 was given write-back while Veeam read it.
    const session = await onlySession();
    const verdicts = await h.lab.client.verdicts({ sessionId: session.id });
    assert.equal(verdicts.find((v) => v.vm === 'vm-01')?.consistent, false);
    for (const v of verdicts.filter((x) => x.vm !== 'vm-01')) assert.equal(v.consistent, true, `${v.vm}: ${v.reason}`);
    // Its admin's policy is kept; the others are back, vm-03 and vm-04 early.
    assert.deepEqual((await requestedPolicies(h.lab)).get('vm-01'), adminPolicy);
    for (const vm of vms.filter((x) => x !== 'vm-01')) {
      assert.deepEqual((await requestedPolicies(h.lab)).get(vm), policies.get(vm), `${vm} restored`);
    }
    for (const vm of ['vm-03', 'vm-04']) {
      assert.ok((await restoredAt(vm, since)) < session.endsAt, `${vm} released early`);
    }
  });
});
