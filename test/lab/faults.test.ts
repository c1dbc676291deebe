import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Envelope } from '../../activities/powershell/operations';
import { LabInputError } from '../../lab/lab';
import type { FaultRuleInput } from '../../lab/model/faults';
import { fakeLab, type FakeLab } from '../../lab/testing';
import type { ScenarioInput } from '../../lab/scenario';

const WB = { mode: 'WriteBack', peers: 1, externalPeers: null } as const;
const SCENARIO: ScenarioInput = {
  fvp: { vms: [{ name: 'sql-01', requested: WB, writeIntervalMs: 10, destageMs: 100 }] },
  veeam: { jobs: [{ name: 'J', vms: ['sql-01'], startDelayMs: 0, taskMs: 100 }] },
};
const START = { job: 'J', fullBackup: false, retryBackup: false };

async function withFaults(rules: FaultRuleInput[], seed?: number): Promise<FakeLab> {
  const f = await fakeLab(SCENARIO);
  f.lab.setFaults(seed === undefined ? { rules } : { rules, seed });
  return f;
}

const sessions = (f: FakeLab) => f.lab.view().counts.sessionsByJob['J'];
const requestedMode = (f: FakeLab) => f.lab.view().fvp.vms[0]!.requested.mode;

describe('fault injection', () => {
  test('fail applies to `times` matching calls, answers an error envelope and does not perform the op', async () => {
    const f = await withFaults([
      { op: 'Set-VmWriteThrough', action: 'fail', times: 2, category: 'transient', message: 'FVP busy' },
    ]);
    for (let i = 0; i < 2; i++) {
      const envelope = await f.call('fvp', 'Set-VmWriteThrough', { vm: 'sql-01' });
      assert.deepEqual(envelope, {
        ok: false,
        op: 'Set-VmWriteThrough',
        error: { type: 'InjectedFault', message: 'FVP busy', category: 'transient' },
      });
      assert.equal(requestedMode(f), 'WriteBack', 'not performed');
    }
    assert.equal((await f.call('fvp', 'Get-VmCachePolicy', { vm: 'sql-01' })).ok, true, 'other ops unaffected');
    assert.equal((await f.call('fvp', 'Set-VmWriteThrough', { vm: 'sql-01' })).ok, true, 'third call passes');
    assert.equal(requestedMode(f), 'WriteThrough');
    assert.deepEqual(
      f.lab.faults().rules.map((r) => [r.applied, r.remaining]),
      [[2, 0]],
    );
  });

  test('rules match by endpoint and default to any op', async () => {
    const f = await withFaults([{ endpoint: 'veeam', action: 'fail', category: 'permanent', type: 'Boom' }]);
    assert.equal((await f.call('fvp', 'Get-VmCachePolicy', { vm: 'sql-01' })).ok, true);
    const failed = await f.call('veeam', 'Get-BackupJob', { job: 'J' });
    assert.equal(failed.ok, false);
    assert.equal(!failed.ok && failed.error.category, 'permanent');
    assert.equal(!failed.ok && failed.error.type, 'Boom');
  });

  test('probability draws from a seeded PRNG: the same seed gives the same sequence', async () => {
    const outcomes = async (seed: number): Promise<boolean[]> => {
      const f = await withFaults([{ op: 'Get-VmFlushState', action: 'fail', probability: 0.5 }], seed);
      const result: boolean[] = [];
      for (let i = 0; i < 40; i++) result.push((await f.call('fvp', 'Get-VmFlushState', { vm: 'sql-01' })).ok);
      return result;
    };
    const a = await outcomes(42);
    assert.deepEqual(await outcomes(42), a);
    const failures = a.filter((ok) => !ok).length;
    assert.ok(failures > 5 && failures < 35, `${failures} of 40 failed`);
    assert.notDeepEqual(await outcomes(7), a);
  });

  test('die without afterEffect: the host dies and the job is not started', async () => {
    const f = await withFaults([{ op: 'Start-BackupJob', action: 'die', times: 1, exitCode: 3 }]);
    assert.deepEqual(await f.invoke('veeam', 'Start-BackupJob', START), { kind: 'die', exitCode: 3 });
    assert.equal(sessions(f), 0);
  });

  test('die with afterEffect: the job starts, then the host dies; a retry finds it running', async () => {
    const f = await withFaults([{ op: 'Start-BackupJob', action: 'die', times: 1, afterEffect: true }]);
    assert.deepEqual(await f.invoke('veeam', 'Start-BackupJob', START), { kind: 'die', exitCode: 1 });
    assert.equal(sessions(f), 1);
    const retry = await f.call('veeam', 'Start-BackupJob', START);
    assert.equal(!retry.ok && retry.error.category, 'already-running');
    const found = (await f.ok('veeam', 'Find-BackupSession', { job: 'J' })) as { sessions: { Id: string }[] };
    assert.equal(found.sessions[0]?.Id, f.lab.view().veeam.sessions[0]!.id);
  });

  test('fail with afterEffect: the op takes effect although the caller sees an error', async () => {
    const f = await withFaults([{ op: 'Set-VmWriteThrough', action: 'fail', afterEffect: true }]);
    const envelope = await f.call('fvp', 'Set-VmWriteThrough', { vm: 'sql-01' });
    assert.equal(envelope.ok, false);
    assert.equal(requestedMode(f), 'WriteThrough');
  });

  test('hang, garbage, stderr and delay', async () => {
    const f = await withFaults([
      { op: 'Get-VmCachePolicy', action: 'hang', times: 1 },
      { op: 'Get-VmCachePolicy', action: 'garbage', times: 1 },
      { op: 'Get-VmCachePolicy', action: 'stderr', times: 1, message: 'boom on stderr' },
      { op: 'Set-VmWriteThrough', action: 'delay', delayMs: 1500 },
    ]);
    assert.deepEqual(await f.invoke('fvp', 'Get-VmCachePolicy', { vm: 'sql-01' }), { kind: 'hang' });
    const garbage = await f.invoke('fvp', 'Get-VmCachePolicy', { vm: 'sql-01' });
    assert.equal(garbage.kind, 'print');
    assert.throws(() => JSON.parse(garbage.kind === 'print' ? garbage.stdout : '{}') as unknown, SyntaxError);
    assert.deepEqual(await f.invoke('fvp', 'Get-VmCachePolicy', { vm: 'sql-01' }), {
      kind: 'stderr',
      stderr: 'boom on stderr',
    });
    const delayed = await f.invoke('fvp', 'Set-VmWriteThrough', { vm: 'sql-01' });
    assert.equal(delayed.kind, 'print');
    if (delayed.kind !== 'print') return;
    assert.equal(delayed.delayMs, 1500);
    assert.equal((JSON.parse(delayed.stdout) as Envelope).ok, true);
    assert.equal(requestedMode(f), 'WriteThrough', 'delay performs the op');
    assert.deepEqual(
      f.lab.invocations({ op: 'Get-VmCachePolicy' }).invocations.map((r) => [r.fault, r.response]),
      [
        ['hang', 'hang'],
        ['garbage', 'garbage'],
        ['stderr', 'stderr'],
      ],
    );
  });

  test('the invocation log keeps args as received, the outcome, and no credential values', async () => {
    const f = await fakeLab(SCENARIO);
    const args = { vm: 'weird\n"$(rm -rf /)"`\u0000 ✓', extra: [1, { nested: true }] };
    const first = f.lab.invocations().nextSeq;
    await f.lab.invoke({
      endpoint: 'fvp',
      pid: 99,
      op: 'Get-VmCachePolicy',
      args,
      credential: { user: 'u', password: 'hunter2' },
    });
    const { invocations } = f.lab.invocations({ sinceSeq: first });
    assert.equal(invocations.length, 1);
    const record = invocations[0]!;
    assert.deepEqual(record.args, args);
    assert.equal(record.pid, 99);
    assert.equal(record.credentialSupplied, true);
    assert.equal(record.response, 'error');
    assert.deepEqual(record.error, { type: 'InvalidArgument', category: 'permanent' });
    assert.doesNotMatch(JSON.stringify(invocations) + JSON.stringify(f.lab.state), /hunter2/);
    assert.equal(f.lab.view().counts.hostProcesses.fvp, 2, 'pid 1 (connect) and pid 99');
  });

  test('bad rules are rejected naming the field', async () => {
    const { lab } = await fakeLab(SCENARIO);
    assert.throws(
      () => lab.setFaults({ rules: [{ action: 'explode' }] }),
      (error: unknown) => error instanceof LabInputError && /rules\.0\.action/.test(error.message),
    );
    assert.throws(() => lab.setFaults({ rules: [{ action: 'fail', op: 'Get-Nothing' }] }), /rules\.0\.op/);
    assert.throws(() => lab.setFaults({ rules: [{ action: 'fail', probability: 2 }] }), /rules\.0\.probability/);
    assert.deepEqual(lab.faults().rules, [], 'a rejected body changes nothing');
  });
});
