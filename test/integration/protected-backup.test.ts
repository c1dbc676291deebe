/**
 * protectedBackup end to end: the real Temporal dev server, a real worker process, the real
 * node-powershell code path into the lab's fake host. Each test loads its own lab scenario.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import {
  assertConsistentSessions,
  assertNothingChanged,
  assertPoliciesAre,
  requestedPolicies,
  sessionsOf,
} from '../helpers/lab-assertions';
import { JOB, scenario, vmNames } from '../helpers/scenarios';
import { PROFILES, PROFILE_NAMES } from '../../lab/model/profile';
import type { ScenarioInput } from '../../lab/scenario';
import { waitFor } from '../helpers/wait';
import { statusQuery } from '../../workflows';
import type { RunStatus } from '../../workflows/status';

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

describe('protectedBackup against the lab', () => {
  let h: Harness;
  const taskQueue = uniqueId('pb');

  before(async () => {
    h = await startHarness();
    await h.startWorker(taskQueue);
  });
  after(async () => h?.stop());

  async function load(options: Parameters<typeof scenario>[0] = {}) {
    const s = scenario(options);
    await h.lab.client.loadScenario(s);
    return { vms: vmNames(s), policies: await requestedPolicies(h.lab) };
  }

  for (const vmCount of [1, 10]) {
    test(`${vmCount} VM(s): flushed before every snapshot, one session, every policy back`, async () => {
      const { vms, policies } = await load({ vmCount, destageMs: (i) => 200 + 50 * (i % 5) });
      const report = await (await h.start(taskQueue, fastRequest(JOB))).result();
      assert.equal(report.phase, 'completed');
      assert.equal(report.backup.result, 'Success');
      assert.deepEqual(new Set(report.vms.map((v) => v.step)), new Set(['restored']));
      await assertConsistentSessions(h.lab, JOB, 1, vms);
      await assertPoliciesAre(h.lab, policies);
    });
  }

  // Issue 11: the main path on every vendor profile the evidence admits (FVP 3.0/3.1+/3.5, Standard
  // and Enterprise, the policy as text or as an object, Veeam 12 and 13), against a Veeam server with
  // a long history: no session lookup reads the whole history.
  for (const profile of PROFILE_NAMES) {
    test(`vendor profile ${profile}: consistent and restored, no full scan of a 5,000-session history`, async () => {
      const base = scenario({ vmCount: 2 });
      const s: ScenarioInput = {
        ...base,
        vendor: PROFILES[profile],
        veeam: { ...base.veeam, historySessions: 5_000 },
      };
      await h.lab.client.loadScenario(s);
      const vms = vmNames(s);
      const policies = await requestedPolicies(h.lab);
      const report = await (await h.start(taskQueue, fastRequest(JOB))).result();
      assert.equal(report.phase, 'completed');
      assert.deepEqual(new Set(report.vms.map((v) => v.step)), new Set(['restored']));
      await assertConsistentSessions(h.lab, JOB, 1, vms);
      await assertPoliciesAre(h.lab, policies);
      const { lookups } = (await h.lab.client.state()).veeam;
      assert.equal(lookups.fullScans, 0, 'no unfiltered Get-VBRBackupSession');
      assert.ok(lookups.rowsRead < 200, `session rows read: ${lookups.rowsRead} (the history has 5,000)`);
      const expected = PROFILES[profile].veeam === '13' ? 'JobParameter' : 'FindLastSession';
      assert.deepEqual(Object.keys(lookups.calls), [expected], 'the lookup of this Veeam version');
    });
  }

  test('a VM already in write-through is verified, left alone, and not "restored" to write-back', async () => {
    const { vms, policies } = await load({
      vm: (vm, i) => (i === 0 ? { ...vm, requested: { mode: 'WriteThrough', peers: 0, externalPeers: null } } : vm),
    });
    const report = await (await h.start(taskQueue, fastRequest(JOB))).result();
    const first = report.vms.find((v) => v.vm === vms[0]);
    assert.equal(first?.alreadyWriteThrough, true);
    assert.equal(first?.step, 'flushed', 'verified, never restored');
    await assertPoliciesAre(h.lab, policies);
    const { invocations } = await h.lab.client.invocations({ op: 'Set-VmWriteThrough' });
    assert.ok(!invocations.some((i) => (i.args as { vm: string }).vm === vms[0]), 'no switch of the write-through VM');
    await assertConsistentSessions(h.lab, JOB, 1, vms);
  });

  test('a host without flash: effective write-through already, the requested write-back comes back', async () => {
    const { vms, policies } = await load({ vm: (vm, i) => (i === 1 ? { ...vm, hostHasFlash: false } : vm) });
    await (await h.start(taskQueue, fastRequest(JOB))).result();
    await assertPoliciesAre(h.lab, policies);
    await assertConsistentSessions(h.lab, JOB, 1, vms);
  });

  test('an unknown VM fails the run at once, naming it, and changes nothing', async () => {
    const { policies } = await load();
    const failure = await failureOf((await h.start(taskQueue, fastRequest(JOB, { vms: ['no-such-vm'] }))).result());
    assert.match(failure.message, /"no-such-vm" is not known to FVP/);
    await assertNothingChanged(h.lab, policies, JOB);
  });

  test('an unknown job fails the run, naming it, and changes nothing', async () => {
    const { policies } = await load();
    const failure = await failureOf((await h.start(taskQueue, fastRequest('No-Such-Job'))).result());
    assert.match(failure.message, /No-Such-Job/);
    await assertNothingChanged(h.lab, policies, JOB);
  });

  test('FVP management server down at the start: no backup, nothing changed', async () => {
    const { policies } = await load();
    await h.lab.client.setManagementServer(false);
    const request = fastRequest(JOB, {
      timeouts: { ...fastRequest(JOB).timeouts, retryMaximumAttempts: 3 },
    });
    const failure = await failureOf((await h.start(taskQueue, request)).result());
    assert.match(failure.message, /Management Server/i);
    await assertNothingChanged(h.lab, policies, JOB);
  });

  test('a VM that never flushes: no backup, every VM restored, the run names it', async () => {
    const { vms, policies } = await load({ destageMs: (i) => (i === 2 ? 120_000 : 200) });
    const request = fastRequest(JOB, { flush: { deadline: '1500ms', pollInterval: '100ms', concurrency: 8 } });
    const failure = await failureOf((await h.start(taskQueue, request)).result());
    assert.equal(failure.type, 'FlushTimeout');
    assert.match(failure.message, new RegExp(`"${vms[2]}"`));
    assert.equal((await sessionsOf(h.lab, JOB)).length, 0, 'no Veeam session');
    await assertPoliciesAre(h.lab, policies);
  });

  test('job result Failed: restored, then the run fails with Veeam result', async () => {
    const { vms, policies } = await load({ outcome: 'Failed' });
    const failure = await failureOf((await h.start(taskQueue, fastRequest(JOB))).result());
    assert.equal(failure.type, 'BackupJobFailed');
    assert.match(failure.message, /result Failed/);
    await assertPoliciesAre(h.lab, policies);
    assert.equal((await sessionsOf(h.lab, JOB)).length, 1);
    void vms;
  });

  test('job result Warning: the run completes and reports the warning', async () => {
    const { policies } = await load({ outcome: 'Warning' });
    const report = await (await h.start(taskQueue, fastRequest(JOB))).result();
    assert.equal(report.phase, 'completed');
    assert.equal(report.backup.result, 'Warning');
    assert.ok(report.warnings.some((w) => /Warning/.test(w)));
    await assertPoliciesAre(h.lab, policies);
  });

  test('job already running, whenAlreadyRunning=wait: waits, then runs its own consistent session', async () => {
    const { vms, policies } = await load({ taskMs: 400 });
    await h.lab.client.connect('veeam', { pid: 424242 });
    await h.lab.client.call(
      'veeam',
      'Start-BackupJob',
      { job: JOB, fullBackup: false, retryBackup: false },
      { pid: 424242 },
    );
    const report = await (await h.start(taskQueue, fastRequest(JOB))).result();
    const sessions = await sessionsOf(h.lab, JOB);
    assert.equal(sessions.length, 2, 'the foreign session and ours');
    const ours = sessions.find((s) => s.id === report.backup.sessionId);
    assert.ok(ours, 'our session is a new one');
    const verdicts = await h.lab.client.verdicts({ sessionId: ours.id });
    assert.deepEqual(
      verdicts.map((v) => v.consistent),
      vms.map(() => true),
    );
    await assertPoliciesAre(h.lab, policies);
  });

  test('job already running, whenAlreadyRunning=fail: fails without touching a VM', async () => {
    // Long enough to still run when the run asks, on a loaded machine (resolving alone took > 6 s there).
    const { policies } = await load({ taskMs: 5000 });
    await h.lab.client.connect('veeam', { pid: 424243 });
    await h.lab.client.call(
      'veeam',
      'Start-BackupJob',
      { job: JOB, fullBackup: false, retryBackup: false },
      { pid: 424243 },
    );
    const request = fastRequest(JOB, { veeam: { pollInterval: '100ms', whenAlreadyRunning: 'fail' } });
    const failure = await failureOf((await h.start(taskQueue, request)).result());
    assert.equal(failure.type, 'JobAlreadyRunning');
    const { invocations } = await h.lab.client.invocations({ op: 'Set-VmWriteThrough' });
    assert.equal(invocations.length, 0, 'no VM was switched');
    await assertPoliciesAre(h.lab, policies);
  });

  test('dryRun plans and reports, and touches nothing', async () => {
    const { policies } = await load();
    const report = await (await h.start(taskQueue, fastRequest(JOB, { dryRun: true }))).result();
    assert.equal(report.dryRun, true);
    assert.ok(report.plan.some((line) => /switch to write-through/.test(line)));
    await assertNothingChanged(h.lab, policies, JOB);
  });

  test('the PowerShell host dies in the middle of a switch that took effect: still consistent and restored', async () => {
    const { vms, policies } = await load();
    await h.lab.client.setFaults([{ op: 'Set-VmWriteThrough', action: 'die', times: 1, afterEffect: true }]);
    await (await h.start(taskQueue, fastRequest(JOB))).result();
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    await assertPoliciesAre(h.lab, policies);
  });

  test('Start-BackupJob takes effect but its answer is lost: the retry re-attaches, one session', async () => {
    const { vms, policies } = await load();
    await h.lab.client.setFaults([{ op: 'Start-BackupJob', action: 'die', times: 1, afterEffect: true }]);
    const report = await (await h.start(taskQueue, fastRequest(JOB))).result();
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    assert.equal(report.backup.sessionId, (await sessionsOf(h.lab, JOB))[0]?.id);
    await assertPoliciesAre(h.lab, policies);
  });

  test('30% transient failures on every cmdlet: every run still ends consistent and restored', async () => {
    for (let run = 0; run < 4; run++) {
      const { vms, policies } = await load();
      await h.lab.client.setFaults(
        [
          { action: 'fail', probability: 0.15, category: 'transient', message: 'injected transient failure' },
          { action: 'fail', probability: 0.15, category: 'transient', afterEffect: true, message: 'lost answer' },
        ],
        run + 7,
      );
      const report = await (await h.start(taskQueue, fastRequest(JOB))).result();
      assert.equal(report.phase, 'completed');
      await assertConsistentSessions(h.lab, JOB, 1, vms);
      await assertPoliciesAre(h.lab, policies);
    }
  });

  test('HotAdd: proxies without the VADP blacklist are refused; setVadpBlacklist fixes them once', async () => {
    const { vms, policies } = await load({ transportMode: 'HotAdd' });
    const request = fastRequest(JOB, { transportMode: 'hotadd', hotAddProxies: ['veeam-proxy-01'] });
    const refused = await failureOf((await h.start(taskQueue, request)).result());
    assert.equal(refused.type, 'VadpBlacklistMissing');
    await assertNothingChanged(h.lab, policies, JOB);

    const setup = await h.env.client.workflow.execute('setVadpBlacklist', {
      taskQueue,
      workflowId: uniqueId('vadp'),
      args: [{ proxies: ['veeam-proxy-01'] }],
    });
    assert.deepEqual(setup, { dryRun: false, proxies: [{ vm: 'veeam-proxy-01', before: false, after: true }] });

    await (await h.start(taskQueue, request)).result();
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    await assertPoliciesAre(h.lab, policies);
  });

  test('cancelled while waiting for the flush: restores every VM, starts no job, ends cancelled', async () => {
    const { policies } = await load({ destageMs: () => 60_000 });
    const handle = await h.start(
      taskQueue,
      fastRequest(JOB, { flush: { deadline: '5 minutes', pollInterval: '100ms', concurrency: 8 } }),
    );
    await waitFor('the flush phase', async () => (await handle.query(statusQuery)).phase === 'verifying-flush');
    await handle.cancel();
    await assert.rejects(
      handle.result(),
      (err: unknown) => err instanceof WorkflowFailedError && /cancel/i.test(String(err.cause?.name)),
    );
    assert.equal((await sessionsOf(h.lab, JOB)).length, 0, 'no job started');
    await assertPoliciesAre(h.lab, policies);
  });

  test('cancelled during the job: stops it, waits until it stopped, then restores, ends cancelled', async () => {
    const { policies } = await load({ taskMs: 5_000 });
    const handle = await h.start(taskQueue, fastRequest(JOB));
    await waitFor('a running session', async () => (await handle.query(statusQuery)).backup.sessionId);
    await handle.cancel();
    await assert.rejects(handle.result());
    const [session] = await sessionsOf(h.lab, JOB);
    assert.ok(session && session.state === 'Stopped' && session.stopRequestedAt !== null, 'the job was stopped');
    const status: RunStatus = await handle.query(statusQuery);
    assert.equal(status.phase, 'cancelled');
    const timeline = await h.lab.client.timeline();
    for (const vm of timeline) {
      const restoredAt = vm.writeThroughWindows.at(-1)?.endedAt;
      assert.ok(restoredAt && restoredAt >= session.endsAt, `${vm.vm} restored only after the session stopped`);
    }
    await assertPoliciesAre(h.lab, policies);
  });
  test('cancelled while Veeam is unreachable: no restore until Veeam confirms the job stopped', async () => {
    const { vms, policies } = await load({ taskMs: 4_000 });
    const request = fastRequest(JOB, { timeouts: { ...fastRequest(JOB).timeouts, retryMaximumAttempts: 2 } });
    const handle = await h.start(taskQueue, request);
    await waitFor('a running session', async () => (await handle.query(statusQuery)).backup.sessionId);
    await h.lab.client.setVeeamServer(false);
    await handle.cancel();
    await new Promise((r) => setTimeout(r, 2_500));
    const during = await h.lab.client.state();
    for (const vm of during.fvp.vms) assert.equal(vm.requested.mode, 'WriteThrough', `${vm.name} still protected`);
    assert.match((await handle.query(statusQuery)).warnings.join('\n'), /cannot confirm that session/);
    await h.lab.client.setVeeamServer(true);
    await assert.rejects(handle.result());
    const [session] = await sessionsOf(h.lab, JOB);
    assert.ok(session && session.state === 'Stopped');
    for (const vm of await h.lab.client.timeline()) {
      const restoredAt = vm.writeThroughWindows.at(-1)?.endedAt;
      assert.ok(restoredAt && restoredAt >= session.endsAt, `${vm.vm} restored only after the session stopped`);
    }
    await assertPoliciesAre(h.lab, policies);
    void vms;
  });
});
