/**
 * Reads that fail transiently are read again at once inside the activity (activities/read-retry.ts);
 * writes never are (Temporal retries their activity, which reads before it writes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OperationInvoker } from '../../activities/invoker';
import { PowerShellError, type PowerShellErrorCategory } from '../../activities/powershell/errors';
import { READ_ATTEMPTS, retryingReads } from '../../activities/read-retry';

function failing(times: number, category: PowerShellErrorCategory): { invoker: OperationInvoker; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    invoker: {
      async invoke(op) {
        calls.push(op);
        if (calls.length <= times) throw new PowerShellError('x', { op, endpoint: 'fvp', category });
        return { ok: op } as never;
      },
    },
  };
}

test('a read failing transiently is read again, up to READ_ATTEMPTS in all', async () => {
  const twice = failing(READ_ATTEMPTS - 1, 'transient');
  assert.deepEqual(await retryingReads(twice.invoker).invoke('Get-VmCachePolicy', { vm: 'a' }), {
    ok: 'Get-VmCachePolicy',
  });
  assert.equal(twice.calls.length, READ_ATTEMPTS);
  const always = failing(99, 'not-connected');
  await assert.rejects(retryingReads(always.invoker).invoke('Get-FvpVms', {}), PowerShellError);
  assert.equal(always.calls.length, READ_ATTEMPTS);
});

test('writes, permanent, unrecognised and cancelled failures are not read again', async () => {
  for (const [op, category] of [
    ['Set-VmWriteThrough', 'transient'],
    ['Restore-VmCachePolicy', 'timeout'],
    ['Get-VmCachePolicy', 'permanent'],
    ['Get-VmCachePolicy', 'unrecognised'],
    ['Get-VmPolicyStats', 'cancelled-in-flight'],
  ] as const) {
    const once = failing(1, category);
    await assert.rejects(retryingReads(once.invoker).invoke(op, { vm: 'a' } as never));
    assert.equal(once.calls.length, 1, `${op} ${category}`);
  }
});
