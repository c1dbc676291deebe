/**
 * A VM that can no longer be restored must not block its job forever (issue 10 item 5): a VM
 * deleted from FVP or removed from its FVP cluster during the backup ends its guard's restore as
 * 'vm-gone' / 'not-accelerated' (the run completes with a warning naming it, the other VMs are
 * restored), and a restore that keeps failing for another reason is handed over to the guard
 * after a few attempts (the run fails as RestoreHandedOver, the guard keeps trying alone, and the
 * job's next run can hold the VM meanwhile). Real dev server, a real worker process, the lab; and
 * the activity that says "gone" or "not accelerated" only once a fresh read confirms it (the lab in-process).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import { fastRequest, fastTimeouts, fastVeeam, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertPoliciesAre, requestedPolicies, sessionsOf } from '../helpers/lab-assertions';
import { guardId, guardState, guardWorkerEnv, waitFor } from '../helpers/guard';
import { JOB, scenario } from '../helpers/scenarios';
import { durationMs } from '../../domain/duration';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createFvpActivities } from '../../activities/fvp';
import { fakeLab, fvpInvoker } from '../../lab/testing';
import { statusQuery } from '../../workflows';
import type { GuardMemo } from '../../domain/guard-protocol';
import type { RunStatus } from '../../workflows/status';

/** The memo of the guard's newest run, once it has closed. */
async function closedGuardMemo(client: Client, vm: string): Promise<GuardMemo> {
  return waitFor(`the guard of ${vm} to close`, async () => {
    const described = await client.workflow.getHandle(guardId(vm)).describe();
    return described.status.name === 'COMPLETED' ? (described.memo as unknown as GuardMemo) : undefined;
  });
}

/** Signals the VM's guard (its newest run) sent to a workflow at or after `since` (ms). */
async function repliesSince(client: Client, vm: string, workflowId: string, since: number): Promise<number> {
  const { events } = await client.workflow.getHandle(guardId(vm)).fetchHistory();
  return (events ?? []).filter((e) => {
    const sent = e.signalExternalWorkflowExecutionInitiatedEventAttributes;
    return sent?.workflowExecution?.workflowId === workflowId && tsToMs(e.eventTime) >= since;
  }).length;
}

/** The run's failure, with the report it carries. */
async function failureOf(result: Promise<unknown>): Promise<{ type: string; message: string; report: RunStatus }> {
  const failure = await result.then(
    () => assert.fail('the run must not report success'),
    (err: unknown) => err,
  );
  assert.ok(failure instanceof WorkflowFailedError);
  assert.ok(failure.cause instanceof ApplicationFailure);
  return {
    type: String(failure.cause.type),
    message: failure.cause.message,
    report: failure.cause.details?.[0] as RunStatus,
  };
}

describe('restore outcomes: a VM that can no longer be restored does not block its job', () => {
  let h: Harness;
  const taskQueue = uniqueId('restore-outcomes');

  before(async () => {
    h = await startHarness();
    await h.startWorker(taskQueue, guardWorkerEnv);
  });
  after(async () => h?.stop());

  const cases = [
    { from: 'fvp', step: 'gone', phase: 'vm-gone', says: /FVP no longer knows a VM of this name/ },
    { from: 'cluster', step: 'not-accelerated', phase: 'not-accelerated', says: /no longer accelerated by FVP/ },
  ] as const;
  for (const c of cases) {
    test(`a VM ${c.from === 'fvp' ? 'deleted from FVP' : 'removed from its FVP cluster'} during the backup: the run closes with a warning (${c.step}), the others are restored, the next run is not blocked`, async () => {
      await h.lab.client.loadScenario(scenario({ taskMs: 2500 }));
      const before = await requestedPolicies(h.lab);
      const target = 'web-01';
      const handle = await h.start(taskQueue, fastRequest(JOB));
      await waitFor('the job to be running', async () =>
        (await sessionsOf(h.lab, JOB)).some((s) => s.state === 'Working' && s.progress > 0),
      );
      await h.lab.client.removeVm(target, c.from);

      const report = await handle.result();
      assert.equal(report.phase, 'completed');
      const vm = report.vms.find((v) => v.vm === target);
      assert.equal(vm?.step, c.step, `${target} is reported ${c.step}`);
      assert.match(String(vm?.lastError), c.says);
      assert.ok(
        report.warnings.some((w) => w.startsWith(`${target}:`) && c.says.test(w)),
        `a warning names ${target}: ${JSON.stringify(report.warnings)}`,
      );
      for (const other of report.vms.filter((v) => v.vm !== target)) assert.equal(other.step, 'restored', other.vm);
      before.delete(target);
      await assertPoliciesAre(h.lab, before);

      const memo = await closedGuardMemo(h.env.client, target);
      assert.equal(memo.record.phase, c.phase, 'the closed guard says why in its memo');
      assert.equal(memo.record.writeThrough, false, 'nothing is left in write-through on FVP');

      // The job's next run starts and completes: nothing holds it.
      const next = await h.start(taskQueue, fastRequest(JOB, c.from === 'fvp' ? { outsideFvp: [target] } : {}));
      const nextReport = await next.result();
      assert.equal(nextReport.phase, 'completed');
      await assertPoliciesAre(h.lab, before);
    });
  }

  test('a restore that keeps failing: the run closes as RestoreHandedOver, the guard keeps trying alone and restores once it can', async () => {
    await h.lab.client.loadScenario(scenario({ taskMs: 300 }));
    const before = await requestedPolicies(h.lab);
    // Every restore fails (switching to write-through is another operation and still works).
    await h.lab.client.setFaults([{ op: 'Restore-VmCachePolicy', action: 'fail', category: 'transient' }]);
    const handle = await h.start(taskQueue, fastRequest(JOB));

    const failure = await failureOf(handle.result());
    assert.equal(failure.type, 'RestoreHandedOver');
    for (const vm of before.keys()) assert.match(failure.message, new RegExp(`"${vm}"`));
    for (const vm of failure.report.vms) {
      assert.equal(vm.step, 'restore-handed-over', vm.vm);
      // Handed over once its restore had kept failing for timeouts.restoreHandOverAfter, not before.
      const said = failure.report.warnings.map((w) =>
        new RegExp(`^${vm.vm}: its restore failed \\d+ times in (\\d+) s`).exec(w),
      );
      const seconds = Number(said.find((m) => m !== null)?.[1]);
      assert.ok(
        seconds >= durationMs(fastTimeouts.restoreHandOverAfter) / 1000,
        `${vm.vm}: ${failure.report.warnings.join('; ')}`,
      );
    }

    // The guards keep trying alone, visibly: still write-through, restore failing, attempts growing.
    const target = 'sql-01';
    const seen = await waitFor('the guard to be failing', async () => {
      const s = await guardState(h.env.client, target);
      return s?.phase === 'restore-failing' ? s : undefined;
    });
    assert.equal(seen.writeThrough, true);
    await waitFor('the guard to try again', async () => {
      const s = await guardState(h.env.client, target);
      return s !== undefined && s.restoreAttempts > seen.restoreAttempts;
    });

    // The run has closed: the first reply to it that fails ends its wait, and the guard, still
    // restoring, replies to it no more (before, every attempt sent it `restore-failing` again).
    const forgotten = await waitFor('the guard to stop waiting to answer the closed run', async () => {
      const s = await guardState(h.env.client, target);
      return s !== undefined && !s.waiters.some((w) => w.requester.workflowId === handle.workflowId) ? s : undefined;
    });
    assert.equal(forgotten.phase, 'restore-failing');
    assert.equal(forgotten.writeThrough, true, 'forgetting the run does not end the restore');
    const since = Date.now();
    await waitFor('the guard to try twice more', async () => {
      const s = await guardState(h.env.client, target);
      return s !== undefined && s.restoreAttempts >= forgotten.restoreAttempts + 2;
    });
    assert.equal(await repliesSince(h.env.client, target, handle.workflowId, since), 0);

    await h.lab.client.clearFaults();
    for (const vm of before.keys()) await closedGuardMemo(h.env.client, vm);
    await assertPoliciesAre(h.lab, before);
  });

  test("a restore that keeps failing does not keep the job's next run from holding the VM", async () => {
    await h.lab.client.loadScenario(scenario({ taskMs: 1000 }));
    const before = await requestedPolicies(h.lab);
    await h.lab.client.setFaults([{ op: 'Restore-VmCachePolicy', action: 'fail', category: 'transient' }]);
    const first = await h.start(taskQueue, fastRequest(JOB));
    assert.equal((await failureOf(first.result())).type, 'RestoreHandedOver');

    // The next run acquires every VM while its guard's restore still fails: granted (the VM is
    // still write-through), backed up once, and its release restores once the fault is gone.
    // Released at the session's end: no early release may fail (and be handed over) before the fault is gone.
    const next = await h.start(taskQueue, fastRequest(JOB, { veeam: { ...fastVeeam, release: 'session-end' } }));
    await waitFor('the next run to be backing up', async () => (await next.query(statusQuery)).phase === 'backing-up');
    await h.lab.client.clearFaults();
    const report = await next.result();
    assert.equal(report.phase, 'completed');
    for (const vm of report.vms) assert.equal(vm.step, 'restored', vm.vm);
    await assertPoliciesAre(h.lab, before);
    assert.equal((await sessionsOf(h.lab, JOB)).length, 2, 'one session per run');
  });
});

/**
 * The activity's side: the types that end the guard's restore for good are said only once a fresh
 * read confirms them; a refusal that the read contradicts stays retryable.
 */
describe('restoreCachePolicy: gone and not accelerated only when a fresh read confirms it', () => {
  const WB1 = { mode: 'WriteBack', peers: 1, externalPeers: null } as const;
  const WT = { mode: 'WriteThrough', peers: 0, externalPeers: null } as const;

  async function switched() {
    const f = await fakeLab({ fvp: { vms: [{ name: 'sql-01', requested: WB1 }] } });
    const acts = createFvpActivities({ fvp: fvpInvoker(f) });
    const mock = new MockActivityEnvironment();
    const run = <R>(fn: () => Promise<R>): Promise<R> => mock.run(fn) as Promise<R>;
    await run(() => acts.setWriteThrough({ vm: 'sql-01', expected: WB1 }));
    const restore = () =>
      run(() => acts.restoreCachePolicy({ vm: 'sql-01', policy: WB1, expected: WT })).then(
        () => assert.fail('the restore must fail'),
        (err: unknown) => {
          assert.ok(err instanceof ApplicationFailure, String(err));
          return err;
        },
      );
    return { f, restore };
  }

  for (const [from, type] of [
    ['fvp', 'VmNotFound'],
    ['cluster', 'VmNotAccelerated'],
  ] as const) {
    test(`removed from ${from}: ${type}, non-retryable`, async () => {
      const { f, restore } = await switched();
      f.lab.removeVm('sql-01', from);
      const err = await restore();
      assert.equal(err.type, type);
      assert.equal(err.nonRetryable, true);
    });
  }

  test('the write refused as VmNotFound while a fresh read still finds the VM accelerated: retryable, not terminal', async () => {
    const { f, restore } = await switched();
    f.lab.setFaults({
      rules: [{ op: 'Restore-VmCachePolicy', action: 'fail', category: 'permanent', type: 'VmNotFound' }],
    });
    const err = await restore();
    assert.equal(err.type, 'RestoreNotVerified');
    assert.equal(err.nonRetryable, false);
  });
});
