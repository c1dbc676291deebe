/**
 * The reconciler: a guard terminated together with the run that held its VMs leaves them in
 * write-through with nobody left to ask. The scheduled reconcilePolicies finds the closed guards by
 * their memo, has successors adopt their records and restore, once the abandoned job is over; a
 * dry run only reports; a second pass finds nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertConsistentSessions, assertPoliciesAre, requestedPolicies, sessionsOf } from '../helpers/lab-assertions';
import { guardId, guardWorkerEnv, invocationsFor, waitFor, windowsSince } from '../helpers/guard';
import { JOB, scenario, vmNames } from '../helpers/scenarios';
import { readGuardStatus } from '../../client/guard/status';
import { formatReconcileReport, runReconciler } from '../../client/guard/reconcile';
import { syncReconcilerSchedule } from '../../client/guard/reconciler-schedule';
import { registerGuardCommands } from '../../client/cli/guard';
import type { ReconcileReport } from '../../workflows/reconcile-policies';
import { Command } from 'commander';

const PERIOD_MS = 2000;

describe('reconciler', () => {
  let h: Harness;
  const taskQueue = uniqueId('reconcile');

  before(async () => {
    h = await startHarness();
    await h.startWorker(taskQueue, guardWorkerEnv);
  });
  after(async () => h?.stop());

  test('guards and their run terminated mid-job: a dry run reports, the schedule restores after the job, a second pass finds nothing', async () => {
    const s = scenario({ taskMs: 1500 });
    const vms = vmNames(s);
    await h.lab.client.loadScenario(s);
    const policies = await requestedPolicies(h.lab);
    const since = Date.now();
    const run = await h.start(taskQueue, fastRequest(JOB));
    await waitFor('the job to be running', async () =>
      (await sessionsOf(h.lab, JOB)).some((x) => x.state === 'Working' && x.progress > 0),
    );
    for (const vm of vms) await h.env.client.workflow.getHandle(guardId(vm)).terminate('test: guard terminated');
    await run.terminate('test: run terminated');

    // Nobody is left to restore: the VMs stay in write-through, and the closed guards say so.
    const status = await waitFor('the closed guards to be listed', async () => {
      const found = await readGuardStatus(h.env.client);
      return found.unrestored.length === vms.length ? found : undefined;
    });
    assert.deepEqual(status.unrestored.map((u) => u.vm).sort(), [...vms].sort());
    assert.deepEqual(status.unrestored[0]?.recorded, policies.get(status.unrestored[0]?.vm ?? ''));

    const dry = await runReconciler(h.env.client, { taskQueue, dryRun: true });
    assert.equal(dry.found, vms.length);
    assert.deepEqual(
      dry.entries.map((e) => e.outcome),
      vms.map(() => 'would-restore'),
    );
    assert.deepEqual(dry.fixed, []);
    assert.match(formatReconcileReport(dry).join('\n'), /dry run: 3 closed guard/);
    for (const vm of vms) assert.equal(await invocationsFor(h.lab, 'Restore-VmCachePolicy', vm), 0, `${vm} untouched`);
    assert.ok((await h.lab.client.state()).fvp.vms.every((vm) => vm.requested.mode === 'WriteThrough'));

    const scheduleId = uniqueId('reconcile-schedule');
    const scheduledAt = Date.now();
    const synced = await syncReconcilerSchedule(h.env.client, { taskQueue, every: PERIOD_MS, scheduleId });
    assert.equal(synced.created, true);
    const schedule = h.env.client.schedule.getHandle(scheduleId);
    try {
      assert.equal((await schedule.describe()).policies.overlap, 'SKIP');
      const [session] = await sessionsOf(h.lab, JOB);
      assert.ok(session);
      for (const vm of vms) {
        const window = await waitFor(
          `${vm} restored by the reconciler`,
          async () => (await windowsSince(h.lab, vm, since)).find((w) => w.endedAt !== null),
          30_000,
        );
        assert.ok(window.endedAt !== null && window.endedAt >= session.endsAt, `${vm} restored after the job ended`);
        assert.ok(
          window.endedAt <= Math.max(session.endsAt, scheduledAt) + PERIOD_MS + 3000,
          `${vm} restored within one period of the job's end (or of the schedule's creation)`,
        );
      }
      await assertPoliciesAre(h.lab, policies);
      await assertConsistentSessions(h.lab, JOB, 1, vms);
      for (const vm of vms) assert.equal(await invocationsFor(h.lab, 'Restore-VmCachePolicy', vm), 1, `${vm} once`);

      // The scheduled runs say what they fixed.
      const reports = await waitFor('the reconciler runs that fixed the VMs', async () => {
        const found: ReconcileReport[] = [];
        const query = `WorkflowType = 'reconcilePolicies' AND ExecutionStatus = 'Completed'`;
        for await (const info of h.env.client.workflow.list({ query })) {
          if (!info.workflowId.startsWith(scheduleId)) continue;
          found.push(await h.env.client.workflow.getHandle(info.workflowId, info.runId).result());
        }
        const fixed = found.flatMap((r) => r.fixed);
        return fixed.length >= vms.length ? found : undefined;
      });
      assert.deepEqual(reports.flatMap((r) => r.fixed).sort(), [...vms].sort(), 'each VM fixed once');
    } finally {
      await schedule.delete();
    }

    const again = await runReconciler(h.env.client, { taskQueue });
    assert.equal(again.found, 0, 'nothing left to reconcile');
    assert.deepEqual(again.fixed, []);
    assert.deepEqual((await readGuardStatus(h.env.client)).unrestored, []);
    for (const vm of vms) assert.equal(await invocationsFor(h.lab, 'Restore-VmCachePolicy', vm), 1, `${vm} still once`);
  });

  test('a VM put back by an admin meanwhile is reported in place, and not touched', async () => {
    const s = scenario({ taskMs: 600 });
    const vms = vmNames(s);
    await h.lab.client.loadScenario(s);
    const policies = await requestedPolicies(h.lab);
    const run = await h.start(taskQueue, fastRequest(JOB));
    await waitFor('the job to be running', async () => (await sessionsOf(h.lab, JOB)).length > 0);
    for (const vm of vms) await h.env.client.workflow.getHandle(guardId(vm)).terminate('test');
    await run.terminate('test');
    await waitFor('the job to end', async () => (await sessionsOf(h.lab, JOB)).every((x) => x.state === 'Stopped'));
    const [first] = vms as [string];
    await h.lab.client.setVmPolicy(first, policies.get(first) as NonNullable<ReturnType<typeof policies.get>>);
    await waitFor('the closed guards to be listed', async () => {
      return (await readGuardStatus(h.env.client)).unrestored.length === vms.length;
    });
    const report = await runReconciler(h.env.client, { taskQueue });
    const byVm = new Map(report.entries.map((e) => [e.vm, e.outcome]));
    assert.equal(byVm.get(first), 'in-place');
    for (const vm of vms.slice(1)) assert.equal(byVm.get(vm), 'restored');
    assert.equal(await invocationsFor(h.lab, 'Restore-VmCachePolicy', first), 0, 'the in-place VM untouched');
    await assertPoliciesAre(h.lab, policies);
    assert.equal((await runReconciler(h.env.client, { taskQueue })).found, 0);
  });

  test('the guard commands through commander: status, reconcile --dry-run, schedule create then update', async () => {
    let out = '';
    const io = {
      stdout: { write: (text: string) => (out += text) },
      stderr: { write: () => true },
      env: { TEMPORAL_TASK_QUEUE: taskQueue },
    };
    const cli = async (...argv: string[]) => {
      out = '';
      const state = { exitCode: -1 };
      const program = new Command().exitOverride();
      registerGuardCommands(program, io, state);
      await program.parseAsync([...argv, '--json', '--address', h.env.address], { from: 'user' });
      return { exitCode: state.exitCode, json: JSON.parse(out) as Record<string, unknown> };
    };
    const status = await cli('guard', 'status');
    assert.equal(status.exitCode, 0);
    assert.deepEqual(status.json, { running: [], unrestored: [] });
    const dry = await cli('guard', 'reconcile', '--dry-run');
    assert.equal(dry.exitCode, 0);
    assert.equal(dry.json.dryRun, true);
    assert.equal(dry.json.found, 0);
    const scheduleId = uniqueId('cli-reconcile');
    const created = await cli('guard', 'schedule', '--every', '1 hour', '--paused', '--schedule-id', scheduleId);
    assert.equal(created.json.created, true);
    const updated = await cli('guard', 'schedule', '--every', '30 minutes', '--schedule-id', scheduleId);
    assert.equal(updated.json.created, false);
    const handle = h.env.client.schedule.getHandle(scheduleId);
    try {
      const described = await handle.describe();
      assert.equal(described.policies.overlap, 'SKIP');
      assert.equal(described.state.paused, true, 'an update leaves the paused state alone');
      assert.equal(described.spec.intervals?.[0]?.every, 30 * 60_000);
      assert.equal(described.action.type === 'startWorkflow' && described.action.workflowType, 'reconcilePolicies');
    } finally {
      await handle.delete();
    }
  });
});
