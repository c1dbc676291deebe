/**
 * Stale attempts, the way issue 9 broke things: a real worker process is stopped with SIGSTOP in the
 * middle of a slow PowerShell policy change, with the other VMs' calls queued behind it (one FVP
 * session); another worker finishes the run (and starts the next); the first is then continued.
 * Whatever the stopped worker still held must never land.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fastFlush, fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertConsistentSessions, assertPoliciesAre, requestedPolicies, sessionsOf } from '../helpers/lab-assertions';
import { JOB, scenario, vmNames } from '../helpers/scenarios';
import { waitFor } from '../helpers/wait';
import type { WorkerProcess } from '../helpers/worker-process';

/**
 * The guard's own timeouts (the worker's: a 30 s heartbeat) decide when the stopped worker's
 * attempts are retried elsewhere: the flush may wait that long.
 */
const request = () => fastRequest(JOB, { flush: { ...fastFlush, deadline: '3 minutes' } });

/**
 * Nothing can show that a continued worker will never write, so it is watched for long enough to
 * start a fresh PowerShell process and write several times over, then stopped (its shutdown waits
 * for whatever it still runs).
 */
async function watchThenStop(worker: WorkerProcess): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 8_000));
  await worker.kill('SIGTERM');
}

describe('a worker stopped mid-call and continued after another worker went on', () => {
  let h: Harness;

  before(async () => {
    h = await startHarness();
  });
  after(async () => h?.stop());

  /** Starts a worker with one FVP session, starts a run, and SIGSTOPs the worker inside a slow `op`. */
  async function stopInside(op: string, taskQueue: string) {
    await h.lab.client.setFaults([{ op, action: 'delay', delayMs: 3000, times: 1 }]);
    const stopped = await h.startWorker(taskQueue, { FVPB_FVP_POOL_SIZE: '1' });
    const pid = stopped.process.pid;
    assert.ok(pid !== undefined);
    const handle = await h.start(taskQueue, request());
    await waitFor(`a slow ${op}`, async () => (await h.lab.client.invocations({ op })).invocations.length > 0);
    process.kill(pid, 'SIGSTOP');
    return { stopped, handle, resume: () => process.kill(pid, 'SIGCONT') };
  }

  test('stopped inside a slow Set-VmWriteThrough: no write lands after the run', async () => {
    const s = scenario();
    await h.lab.client.loadScenario(s);
    const policies = await requestedPolicies(h.lab);
    const taskQueue = uniqueId('stale-wt');
    const { stopped, handle, resume } = await stopInside('Set-VmWriteThrough', taskQueue);
    try {
      const second = await h.startWorker(taskQueue);
      const report = await handle.result();
      assert.equal(report.phase, 'completed');
      // Only the stopped worker is left to act from here on.
      await second.kill('SIGTERM');
    } finally {
      resume();
    }
    await assertConsistentSessions(h.lab, JOB, 1, vmNames(s));
    await assertPoliciesAre(h.lab, policies);
    const finishedAt = (await h.lab.client.state()).now;

    await watchThenStop(stopped);
    const late = (await h.lab.client.timeline()).flatMap((t) =>
      t.events.filter((e) => e.at >= finishedAt).map((e) => ({ vm: t.vm, ...e })),
    );
    assert.deepEqual(late, [], 'no policy change after the run completed');
    await assertPoliciesAre(h.lab, policies);
  });

  test('stopped inside a slow Restore-VmCachePolicy: no restore lands under the next run’s job', async () => {
    const s = scenario({ taskMs: 2000 });
    await h.lab.client.loadScenario(s);
    const policies = await requestedPolicies(h.lab);
    const taskQueue = uniqueId('stale-restore');
    const { stopped, handle, resume } = await stopInside('Restore-VmCachePolicy', taskQueue);
    let second: WorkerProcess | undefined;
    try {
      second = await h.startWorker(taskQueue);
      assert.equal((await handle.result()).phase, 'completed');
      const next = await h.start(taskQueue, request());
      await waitFor('the next run’s job to work', async () => {
        const sessions = await sessionsOf(h.lab, JOB);
        return sessions.length === 2 && sessions[1]?.state === 'Working';
      });
      resume();
      assert.equal((await next.result()).phase, 'completed');
    } finally {
      resume();
    }
    await watchThenStop(stopped);
    await second.kill('SIGTERM');
    await assertConsistentSessions(h.lab, JOB, 2, vmNames(s));
    await assertPoliciesAre(h.lab, policies);
  });
});
