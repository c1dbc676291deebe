/**
 * Cancellation reaches the PowerShell pool, through the real node-powershell, the fake host and the
 * lab: a call dropped while it waits for a permit or for its session to start never reaches the
 * host; a call cancelled in flight has its process killed and says it may have taken effect; and
 * the activity adapter hands each call the running activity's cancellation signal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { MockActivityEnvironment } from '@temporalio/testing';
import { activityCancellationSignal, cancelledWithActivity, type CancellableInvoker } from '../../activities/invoker';
import { alive, rejection, usePoolLab } from '../helpers/powershell';
import { waitFor } from '../helpers/wait';

const { lab, fvpPool } = usePoolLab();

async function opsSeen(): Promise<string[]> {
  return (await lab().client.invocations()).invocations.map((r) => r.op);
}

async function requestedMode(vm: string): Promise<string | undefined> {
  return (await lab().client.state()).fvp.vms.find((v) => v.name === vm)?.requested.mode;
}

test('a call cancelled while it waits for a permit is dropped and never reaches the host', async () => {
  const pool = fvpPool({ poolSize: 1 });
  await pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  await lab().client.setFaults([{ op: 'Get-VmFlushState', action: 'delay', delayMs: 1500, times: 1 }]);
  const slow = pool.invoke('Get-VmFlushState', { vm: 'sql-01' });
  const controller = new AbortController();
  const queued = pool.invoke('Set-VmWriteThrough', { vm: 'app-01' }, controller.signal);
  await waitFor('the write to queue behind the slow call', async () => pool.stats().waiting === 1);

  controller.abort();
  const err = await rejection(queued);
  assert.equal(err.category, 'cancelled');
  assert.equal(err.op, 'Set-VmWriteThrough');
  assert.match(err.message, /never sent to PowerShell and did not run/);
  assert.equal(pool.stats().waiting, 0, 'the cancelled call left the queue');

  // The slow call finishes and hands its permit on; later calls still run (no permit was lost).
  await slow;
  await pool.invoke('Get-VmCachePolicy', { vm: 'web-01' });
  assert.deepEqual(await opsSeen(), ['Connect-Endpoint', 'Get-VmCachePolicy', 'Get-VmFlushState', 'Get-VmCachePolicy']);
  assert.equal(await requestedMode('app-01'), 'WriteBack', 'the cancelled write never landed');
  assert.deepEqual(pool.stats(), { sessions: 1, busy: 0, started: 1, waiting: 0 });
});

test('a call cancelled in flight has its process killed, and the error says it may have taken effect', async () => {
  const pool = fvpPool();
  await pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  // The lab performs the write at once and answers only later: the effect is real, the answer late.
  await lab().client.setFaults([{ op: 'Set-VmWriteThrough', action: 'delay', delayMs: 60_000, times: 1 }]);
  const controller = new AbortController();
  const inFlight = pool.invoke('Set-VmWriteThrough', { vm: 'app-01' }, controller.signal);
  const sent = await waitFor('the write to reach the host', async () =>
    (await lab().client.invocations({ op: 'Set-VmWriteThrough' })).invocations.at(0),
  );

  controller.abort();
  const err = await rejection(inFlight);
  assert.equal(err.category, 'cancelled-in-flight');
  assert.notEqual(err.category, 'cancelled', 'never reported as "not done"');
  assert.equal(err.pid, sent.pid);
  assert.match(err.message, /was killed\. The call may have taken effect/);
  assert.equal(alive(sent.pid), false, 'the process was killed, not left to answer');
  assert.equal(await requestedMode('app-01'), 'WriteThrough', 'and indeed it had taken effect');

  // The next call runs on a fresh process that connects first.
  await pool.invoke('Get-VmCachePolicy', { vm: 'app-01' });
  const log = (await lab().client.invocations()).invocations;
  const last = log.at(-1);
  assert.ok(last !== undefined && last.pid !== sent.pid);
  assert.deepEqual(
    log.filter((r) => r.pid === last.pid).map((r) => r.op),
    ['Connect-Endpoint', 'Get-VmCachePolicy'],
  );
  assert.equal(pool.stats().started, 2);
});

test('a call cancelled while its process is starting is never written; the started session serves the next call', async () => {
  const pool = fvpPool();
  await lab().client.setFaults([{ op: 'Connect-Endpoint', action: 'delay', delayMs: 1500, times: 1 }]);
  const controller = new AbortController();
  const starting = pool.invoke('Set-VmWriteThrough', { vm: 'app-01' }, controller.signal);
  const connect = await waitFor('the process to be spawned and connecting', async () =>
    (await lab().client.invocations({ op: 'Connect-Endpoint' })).invocations.at(0),
  );

  controller.abort();
  const err = await rejection(starting);
  assert.equal(err.category, 'cancelled');
  assert.match(err.message, /while its PowerShell session was starting; it was never sent/);

  // The start completes in the background and the session is kept, idle: nothing else is written.
  await waitFor('the session to finish starting', async () => {
    const stats = pool.stats();
    return stats.sessions === 1 && stats.busy === 0 && stats.waiting === 0;
  });
  await pool.invoke('Get-VmCachePolicy', { vm: 'app-01' });
  const log = (await lab().client.invocations()).invocations;
  assert.deepEqual(
    log.map((r) => [r.op, r.pid]),
    [
      ['Connect-Endpoint', connect.pid],
      ['Get-VmCachePolicy', connect.pid],
    ],
    'the cancelled write was never written; the same process serves the next call',
  );
  assert.equal(await requestedMode('app-01'), 'WriteBack');
});

test('a call whose signal already fired is refused before anything starts', async () => {
  const pool = fvpPool();
  const err = await rejection(pool.invoke('Set-VmWriteThrough', { vm: 'app-01' }, AbortSignal.abort()));
  assert.equal(err.category, 'cancelled');
  assert.equal(err.retryable, true);
  assert.equal(pool.stats().started, 0);
  assert.deepEqual(await opsSeen(), []);
});

test('the activity invoker cancels each call with the running activity, and passes no signal outside one', async () => {
  const seen: (AbortSignal | undefined)[] = [];
  const recorder: CancellableInvoker = {
    invoke: (_op, _args, signal) => {
      seen.push(signal);
      return new Promise<never>((_, reject) =>
        signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true }),
      );
    },
  };
  const invoker = cancelledWithActivity(recorder);
  void invoker.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  assert.deepEqual(seen, [undefined], 'outside an activity: no signal');
  assert.equal(activityCancellationSignal(), undefined);

  for (const heartbeatTimeoutMs of [undefined, 60_000]) {
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs });
    const running = env.run(() => invoker.invoke('Get-VmCachePolicy', { vm: 'sql-01' }));
    const passed = await waitFor('the call to be made', async (): Promise<AbortSignal | undefined> => seen.at(-1));
    assert.equal(passed.aborted, false);
    env.cancel('CANCELLED');
    await assert.rejects(running, /aborted/);
    assert.equal(
      passed.aborted,
      true,
      `the activity's cancellation reached the call (heartbeat ${heartbeatTimeoutMs})`,
    );
  }
});

/**
 * Stops this very process with SIGSTOP after `afterMs`, while it sits idle waiting for I/O as a
 * worker does, and continues it `forMs` later: the way the stale attempts of issue 9 were made.
 * On waking, the output that arrived meanwhile is read before any timer runs.
 */
function stopThisProcess(afterMs: number, forMs: number): Promise<void> {
  const stopper = spawn(
    'sh',
    ['-c', `sleep ${afterMs / 1000}; kill -STOP ${process.pid}; sleep ${forMs / 1000}; kill -CONT ${process.pid}`],
    { stdio: 'ignore' },
  );
  return new Promise((resolve) => stopper.once('exit', () => resolve()));
}

test('a worker stopped past its heartbeat timeout never sends its queued write on waking', async () => {
  const pool = fvpPool({ poolSize: 1 });
  const invoker = cancelledWithActivity(pool);
  await pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  await lab().client.setFaults([{ op: 'Get-VmFlushState', action: 'delay', delayMs: 2500, times: 1 }]);
  const slow = pool.invoke('Get-VmFlushState', { vm: 'sql-01' });
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 1000 });
  const activity = env.run(() => invoker.invoke('Set-VmWriteThrough', { vm: 'app-01' }));
  assert.equal(pool.stats().waiting, 1, 'the write waits for the only session');
  await waitFor('the slow call to reach the host', async () =>
    (await lab().client.invocations({ op: 'Get-VmFlushState' })).invocations.at(0),
  );

  // Stopped across the slow call's answer: on waking, its output frees the session at once, long
  // before Temporal could say that the attempt timed out.
  const stopped = stopThisProcess(300, 4000);
  const err = await rejection(activity);
  await stopped;
  assert.equal(err.category, 'cancelled');
  assert.match(err.message, /cancelled \(the worker stood still for \d+ ms\)/);
  assert.equal(env.context.cancellationSignal.aborted, false, 'the worker noticed by itself');
  await slow;
  await pool.invoke('Get-VmCachePolicy', { vm: 'web-01' });
  assert.equal((await lab().client.invocations({ op: 'Set-VmWriteThrough' })).invocations.length, 0);
  assert.equal(await requestedMode('app-01'), 'WriteBack');
});

test('a slow call in a live worker is not mistaken for a frozen one', async () => {
  const pool = fvpPool();
  const invoker = cancelledWithActivity(pool);
  await lab().client.setFaults([{ op: 'Set-VmWriteThrough', action: 'delay', delayMs: 2500, times: 1 }]);
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 1000 });
  await env.run(async () => {
    assert.deepEqual(await invoker.invoke('Set-VmWriteThrough', { vm: 'app-01' }), { sent: true });
    assert.equal(await requestedMode('app-01'), 'WriteThrough');
  });
});

test('cancelling the activity drops its queued PowerShell call (pool behind the activity invoker)', async () => {
  const pool = fvpPool({ poolSize: 1 });
  const invoker = cancelledWithActivity(pool);
  await pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  await lab().client.setFaults([{ op: 'Get-VmFlushState', action: 'delay', delayMs: 1500, times: 1 }]);
  const slow = pool.invoke('Get-VmFlushState', { vm: 'sql-01' });

  const env = new MockActivityEnvironment();
  const activity = env.run(() => invoker.invoke('Set-VmWriteThrough', { vm: 'app-01' }));
  await waitFor('the activity’s write to queue', async () => pool.stats().waiting === 1);
  env.cancel('TIMED_OUT');
  const err = await rejection(activity);
  assert.equal(err.category, 'cancelled');
  assert.match(err.message, /^Set-VmWriteThrough was cancelled \(TIMED_OUT\) while it waited/);

  await slow;
  await pool.invoke('Get-VmCachePolicy', { vm: 'web-01' });
  assert.equal((await lab().client.invocations({ op: 'Set-VmWriteThrough' })).invocations.length, 0);
  assert.equal(await requestedMode('app-01'), 'WriteBack');
});
