/**
 * Failures of the PowerShell process, through the real node-powershell, the fake host and the lab's
 * fault rules: death mid-call, a hung call, garbage, stderr, results of the wrong shape, vendor
 * errors of each category, a server that is down at connect time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EndpointConfig } from '../../activities/powershell';
import { alive, rejection, usePoolLab } from '../helpers/powershell';
import { waitFor } from '../helpers/wait';

const { lab, fvpPool } = usePoolLab();

async function lastPid(): Promise<number> {
  const log = (await lab().client.invocations()).invocations;
  const last = log[log.length - 1];
  assert.ok(last, 'the lab saw a call');
  return last.pid;
}

test('a process that dies mid-call gives a retryable error; the next call runs on a fresh process', async () => {
  const pool = fvpPool();
  await pool.invoke('Get-VmFlushState', { vm: 'sql-01' });
  const first = await lastPid();
  await lab().client.setFaults([{ op: 'Get-VmCachePolicy', action: 'die', exitCode: 3, times: 1 }]);

  const err = await rejection(pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' }));
  assert.equal(err.category, 'process-died');
  assert.equal(err.retryable, true);
  assert.equal(err.op, 'Get-VmCachePolicy');
  assert.equal(err.endpoint, 'fvp');
  assert.equal(err.pid, first);
  assert.match(err.message, /Get-VmCachePolicy.*died during the call \(exit code 3\)/);
  assert.equal(alive(first), false);

  const policy = await pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  assert.equal(policy.matches[0]?.vm.Name, 'sql-01');
  const second = await lastPid();
  assert.notEqual(second, first);
  assert.equal(pool.stats().started, 2);
  assert.equal(pool.stats().sessions, 1);
});

test('a process that exits with code 0 mid-call is a death too, not an empty success', async () => {
  const pool = fvpPool();
  await lab().client.setFaults([{ op: 'Get-VmFlushState', action: 'die', exitCode: 0, times: 1 }]);
  const err = await rejection(pool.invoke('Get-VmFlushState', { vm: 'sql-01' }));
  assert.equal(err.category, 'process-died');
  assert.equal(err.retryable, true);
  const flush = await pool.invoke('Get-VmFlushState', { vm: 'sql-01' });
  assert.equal(flush.matches[0]?.vm.Name, 'sql-01');
});

test('a hung call times out, the process is killed, and the next call works', async () => {
  const pool = fvpPool({ invocationTimeoutMs: 700 });
  await pool.invoke('Get-VmCachePolicy', { vm: 'app-01' });
  const hung = await lastPid();
  await lab().client.setFaults([{ op: 'Get-VmFlushState', action: 'hang', times: 1 }]);

  const began = Date.now();
  const err = await rejection(pool.invoke('Get-VmFlushState', { vm: 'app-01' }));
  const took = Date.now() - began;
  assert.equal(err.category, 'timeout');
  assert.equal(err.retryable, true);
  assert.equal(err.op, 'Get-VmFlushState');
  assert.match(err.message, /timed out after 700 ms/);
  assert.ok(took >= 650 && took < 3_000, `timed out after ${took} ms`);
  assert.equal(alive(hung), false, 'the hung process was killed');

  const flush = await pool.invoke('Get-VmFlushState', { vm: 'app-01' });
  assert.equal(flush.matches[0]?.vm.Name, 'app-01');
  assert.notEqual(await lastPid(), hung);
});

test('garbage on stdout is a clear, non-retryable error naming the operation; the session is replaced', async () => {
  const pool = fvpPool();
  await pool.invoke('Get-VmCachePolicy', { vm: 'web-01' });
  const first = await lastPid();
  await lab().client.setFaults([{ op: 'Get-VmFlushState', action: 'garbage', times: 1 }]);

  const err = await rejection(pool.invoke('Get-VmFlushState', { vm: 'web-01' }));
  assert.equal(err.category, 'protocol');
  assert.equal(err.retryable, false);
  assert.equal(
    err.message,
    'Get-VmFlushState returned output that is not one JSON document: "WARNING: this is not JSON at all"',
  );
  await pool.invoke('Get-VmFlushState', { vm: 'web-01' });
  assert.notEqual(await lastPid(), first, 'a desynchronised session is not reused');
  assert.equal(alive(first), false);
});

test('an envelope for another operation means the session is out of step: error, then a new process', async () => {
  const pool = fvpPool();
  await pool.invoke('Get-VmCachePolicy', { vm: 'web-01' });
  const first = await lastPid();
  const stdout = JSON.stringify({ ok: true, op: 'Get-VmFlushState', result: {} });
  await lab().client.setFaults([{ op: 'Get-VmCachePolicy', action: 'garbage', stdout, times: 1 }]);
  const err = await rejection(pool.invoke('Get-VmCachePolicy', { vm: 'web-01' }));
  assert.equal(err.category, 'protocol');
  assert.match(err.message, /^Get-VmCachePolicy returned the envelope of another operation \("Get-VmFlushState"\)/);
  await pool.invoke('Get-VmCachePolicy', { vm: 'web-01' });
  assert.notEqual(await lastPid(), first);
});

test('a result of the wrong shape is a clear error naming the operation and the field', async () => {
  const pool = fvpPool();
  await pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  const first = await lastPid();
  const stdout = JSON.stringify({
    ok: true,
    op: 'Get-VmCachePolicy',
    result: { matches: [{ vm: { Name: 'sql-01' }, requested: { ok: 'yes' }, effective: null, stats: null }] },
  });
  await lab().client.setFaults([{ op: 'Get-VmCachePolicy', action: 'garbage', stdout, times: 1 }]);
  const err = await rejection(pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' }));
  assert.equal(err.category, 'protocol');
  assert.equal(err.retryable, false);
  assert.match(
    err.message,
    /^Get-VmCachePolicy returned a result that does not match its schema \(.*matches\[0\]\.requested\.ok/,
  );
  // The envelope itself was well-formed: the process is in step and is kept.
  await pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  assert.equal(await lastPid(), first);
});

test('output on stderr fails the call and retires the process', async () => {
  const pool = fvpPool();
  await pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  const first = await lastPid();
  await lab().client.setFaults([{ op: 'Get-VmCachePolicy', action: 'stderr', message: 'Get-PrnxVM : boom', times: 1 }]);
  const err = await rejection(pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' }));
  assert.equal(err.category, 'protocol');
  assert.equal(err.message, 'Get-VmCachePolicy wrote to stderr: "Get-PrnxVM : boom"');
  await pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  assert.notEqual(await lastPid(), first);
});

test('vendor errors keep the category and type the module gave them; only caller faults keep the session', async () => {
  const pool = fvpPool();
  await pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  const first = await lastPid();
  const cases = [
    // An error about the caller's request or the job keeps the session...
    { category: 'permanent', type: 'VmNotAccelerated', retryable: false, replaced: false },
    { category: 'permanent', type: 'InvalidArgument', retryable: false, replaced: false },
    { category: 'already-running', type: 'JobAlreadyRunning', retryable: false, replaced: false },
    // ...any other vendor error may mean a dead connection: the next call connects afresh.
    { category: 'not-connected', type: 'NotConnected', retryable: true, replaced: true },
    { category: 'transient', type: 'ManagementServerBusy', retryable: true, replaced: true },
    { category: 'transient', type: 'System.NullReferenceException', retryable: true, replaced: true },
    { category: 'permanent', type: 'System.Net.WebException', retryable: false, replaced: true },
  ] as const;
  for (const c of cases) {
    const before = await lastPid();
    await lab().client.setFaults([
      {
        op: 'Get-VmFlushState',
        action: 'fail',
        category: c.category,
        type: c.type,
        message: `it is ${c.type}`,
        times: 1,
      },
    ]);
    const err = await rejection(pool.invoke('Get-VmFlushState', { vm: 'sql-01' }));
    assert.equal(err.category, c.category);
    assert.equal(err.errorType, c.type);
    assert.equal(err.retryable, c.retryable);
    assert.equal(err.message, `Get-VmFlushState failed (${c.category}): it is ${c.type}`);
    await pool.invoke('Get-VmFlushState', { vm: 'sql-01' });
    assert.equal((await lastPid()) !== before, c.replaced, `${c.category}: process replaced = ${c.replaced}`);
  }
  assert.notEqual(await lastPid(), first);
  // A raw vendor error, classified by the worker (classify.ts): "was not found" is permanent.
  const missing = await rejection(pool.invoke('Set-VmWriteThrough', { vm: 'no-such-vm' }));
  assert.equal(missing.category, 'permanent');
  assert.equal(missing.errorType, 'PernixData.Prnx.PrnxException');
  assert.equal(missing.retryable, false);
});

test('a management server that is down at connect time fails retryably; the pool recovers', async () => {
  const pool = fvpPool();
  await lab().client.setManagementServer(false);
  const err = await rejection(pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' }));
  assert.equal(err.category, 'transient');
  assert.equal(err.retryable, true);
  assert.equal(err.op, 'Get-VmCachePolicy');
  assert.equal(err.errorType, 'System.Net.WebException', 'a WebException: transient by its type');
  assert.match(err.message, /^cannot start a PowerShell session for fvp: Connect-Endpoint failed \(transient\)/);
  assert.ok(err.pid !== undefined && !alive(err.pid), 'the half-started process is gone');
  assert.equal(pool.stats().sessions, 0);

  await lab().client.setManagementServer(true);
  const policy = await pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  assert.equal(policy.matches[0]?.vm.Name, 'sql-01');
});

test('a missing executable is a permanent error, not a hang', async () => {
  const pool = fvpPool({ executable: '/nonexistent/pwsh' });
  const err = await rejection(pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' }));
  assert.equal(err.retryable, false);
  assert.match(err.message, /cannot start PowerShell executable "\/nonexistent\/pwsh" \(not found\)/);
});

test('a process that dies while idle is replaced on the next call, without an error', async () => {
  const pool = fvpPool();
  await pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  const first = await lastPid();
  process.kill(first, 'SIGKILL');
  while (alive(first)) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const policy = await pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  assert.equal(policy.matches[0]?.vm.Name, 'sql-01');
  assert.notEqual(await lastPid(), first);
  assert.equal(pool.stats().started, 2);
});

async function connectsOf(pid: number): Promise<number> {
  const log = (await lab().client.invocations({ op: 'Connect-Endpoint' })).invocations;
  return log.filter((r) => r.pid === pid).length;
}

for (const category of ['permanent', 'transient'] as const) {
  test(`after a server restart (${category} "Unauthorized"), the dead session is retired and the next call reconnects`, async () => {
    const pool = fvpPool();
    await pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
    const before = await lastPid();
    await lab().client.setFaults([{ endpoint: 'fvp', action: 'server-restart', category }]);

    const err = await rejection(pool.invoke('Get-VmFlushState', { vm: 'sql-01' }));
    assert.equal(err.pid, before, 'the old session met the restart');
    assert.equal(err.errorType, 'Unauthorized');
    assert.equal(err.category, category);
    assert.match(err.message, /\(401\) Unauthorized/);

    // The retry runs on a fresh process that connected after the restart, and stays there.
    const flush = await pool.invoke('Get-VmFlushState', { vm: 'sql-01' });
    assert.equal(flush.matches[0]?.vm.Name, 'sql-01');
    const after = await lastPid();
    assert.notEqual(after, before);
    assert.equal(await connectsOf(after), 1, 'the new process connected before serving the retry');
    await pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
    assert.equal(await lastPid(), after, 'a connection made after the restart is not affected');
    await waitFor('the dead session to be closed', async () => !alive(before));
  });
}

test('a session older than maxSessionAgeMs is replaced before the next call, even when busy all along', async () => {
  const pool = fvpPool({ maxSessionAgeMs: 1 });
  await pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  const first = await lastPid();
  // Process start and Connect-Endpoint alone took far longer than 1 ms: the session is too old.
  await pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  const second = await lastPid();
  assert.notEqual(second, first);
  assert.equal(await connectsOf(second), 1);
  assert.equal(pool.stats().started, 2);
});

test('maxSessionAgeMs defaults to 30 minutes and must be a positive integer', () => {
  const base = { executable: 'pwsh', server: 's' };
  assert.equal(EndpointConfig.parse(base).maxSessionAgeMs, 30 * 60_000);
  for (const bad of [0, -1, 1.5, '60000']) {
    assert.equal(EndpointConfig.safeParse({ ...base, maxSessionAgeMs: bad }).success, false, String(bad));
  }
});
