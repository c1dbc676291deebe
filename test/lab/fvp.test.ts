import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
/**
 * The lab's FVP: policies, destaging, the raw writes (the module writes what it is told: every
 * check is the worker's, test/lab/conditional-writes.test.ts), vendor errors as raw facts the worker
 * classifies (activities/powershell/classify.ts).
 */
import { Envelope, RawDoctor, type RawFvpVmMatches } from '../../activities/powershell/operations';
import { interpretProxyVadp } from '../../activities/vendor/interpret';
import { judgeDoctor } from '../../activities/vendor/doctor-report';
import type { VmPolicy } from '../../domain/policy';
import { fakeLab, type FakeLab } from '../../lab/testing';
import type { ScenarioInput } from '../../lab/scenario';

const WB1 = { mode: 'WriteBack', peers: 1, externalPeers: null } as const;

function scenario(vms: object[], fvp: object = {}): ScenarioInput {
  return { fvp: { waitTimeCapMs: 50, vms: vms as never, proxies: [{ name: 'proxy-01' }], ...fvp } };
}

const busy = (name: string, extra: object = {}) => ({
  name,
  requested: WB1,
  writeIntervalMs: 10,
  destageMs: 300,
  ...extra,
});

/** A raw write, then the VM read back as the activities read it (the write answers only { sent: true }). */
async function written(
  f: FakeLab,
  op: 'Set-VmWriteThrough' | 'Restore-VmCachePolicy',
  args: { vm: string } & Record<string, unknown>,
): Promise<VmPolicy> {
  assert.deepEqual(await f.ok('fvp', op, args as never), { sent: true });
  return (await f.policy(args.vm))!;
}

function errorOf(envelope: Envelope) {
  assert.equal(envelope.ok, false, `expected an error envelope, got ${JSON.stringify(envelope)}`);
  if (envelope.ok) throw new Error('unreachable');
  return envelope.error;
}

describe('FVP policies and destaging', () => {
  test('a busy write-back VM has dirty data; write-through takes effect only once it destaged', async () => {
    const f = await fakeLab(scenario([busy('sql-01')]));
    f.clock.advance(1000);
    const before = await f.flush('sql-01');
    assert.deepEqual(before.requested, WB1);
    assert.equal(before.effective, 'WriteBack');
    assert.equal(before.timeToDestageSeconds, 0.3);

    const switched = await written(f, 'Set-VmWriteThrough', { vm: 'sql-01' });
    assert.deepEqual(switched.requested, { mode: 'WriteThrough', peers: 0, externalPeers: null });
    assert.equal(switched.effective, 'WriteBack', 'the effective policy lags while dirty data destages');

    f.clock.advance(289);
    const almost = await f.flush('sql-01');
    assert.equal(almost.effective, 'WriteBack');
    assert.equal(almost.timeToDestageSeconds, 0.001);

    f.clock.advance(1);
    const flushed = await f.flush('sql-01');
    assert.equal(flushed.effective, 'WriteThrough');
    assert.equal(flushed.timeToDestageSeconds, 0);

    f.clock.advance(5000);
    const later = await f.flush('sql-01');
    assert.equal(later.timeToDestageSeconds, 0, 'writes after the switch go through: nothing new to destage');
  });

  test('restoring write-back is immediate and sets exactly the given policy', async () => {
    const f = await fakeLab(scenario([busy('sql-01')], { faultDomains: true }));
    await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'sql-01' });
    const policy = { mode: 'WriteBack', peers: 2, externalPeers: 1 } as const;
    const restored = await written(f, 'Restore-VmCachePolicy', { vm: 'sql-01', policy });
    assert.deepEqual(restored.requested, policy);
    assert.equal(restored.effective, 'WriteBack');
    const read = (await f.policy('sql-01'))!;
    assert.deepEqual(read.requested, policy);
  });

  test('-WaitTimeSeconds returns after a small cap, before the destage finished', async () => {
    const f = await fakeLab(scenario([busy('sql-01', { destageMs: 2000 })], { waitTimeCapMs: 50 }));
    f.clock.advance(3000);
    const start = f.clock.t;
    const returned = await written(f, 'Set-VmWriteThrough', { vm: 'sql-01', waitTimeSeconds: 60 });
    assert.equal(f.clock.t - start, 50, 'waited min(60 s, cap)');
    assert.equal(returned.effective, 'WriteBack', 'returned although dirty data is still destaging');
    const state = await f.flush('sql-01');
    assert.ok(state.timeToDestageSeconds > 1.9, `still ${state.timeToDestageSeconds} s to destage`);
  });

  test('-WaitTimeSeconds returns as soon as the flush is done when that comes first', async () => {
    const f = await fakeLab(scenario([busy('sql-01', { destageMs: 30 })], { waitTimeCapMs: 500 }));
    f.clock.advance(1000);
    const start = f.clock.t;
    const returned = await written(f, 'Set-VmWriteThrough', { vm: 'sql-01', waitTimeSeconds: 10 });
    assert.equal(f.clock.t - start, 20, 'the last write-back write (990) reaches the array at 1020');
    assert.equal(returned.effective, 'WriteThrough');
  });

  test('a host without flash forces effective write-through; the requested record is kept and restored', async () => {
    const f = await fakeLab(scenario([busy('noflash-01', { hostHasFlash: false })]));
    f.clock.advance(1000);
    const policy = (await f.policy('noflash-01'))!;
    assert.deepEqual(policy.requested, WB1);
    assert.equal(policy.effective, 'WriteThrough');
    const flush = await f.flush('noflash-01');
    assert.equal(flush.timeToDestageSeconds, 0);
    await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'noflash-01' });
    const restored = await written(f, 'Restore-VmCachePolicy', { vm: 'noflash-01', policy: WB1 });
    assert.deepEqual(restored.requested, WB1);
    assert.equal(restored.effective, 'WriteThrough');
  });

  test('external peers without fault domains: a vendor error no rule knows is unrecognised (named, never retried); nothing changes', async () => {
    const f = await fakeLab(scenario([busy('sql-01')]));
    const policy = { mode: 'WriteBack', peers: 1, externalPeers: 1 } as const;
    const error = errorOf(await f.call('fvp', 'Restore-VmCachePolicy', { vm: 'sql-01', policy }));
    assert.equal(error.category, 'unrecognised');
    assert.equal(error.type, 'PernixData.Prnx.PrnxException');
    assert.match(error.message, /^unrecognised vendor error PernixData\.Prnx\.PrnxException: Fault domains/);
    const read = (await f.policy('sql-01'))!;
    assert.deepEqual(read.requested, WB1);
  });

  test('a management server that is down fails every FVP op as transient, and Veeam ops still work', async () => {
    const f = await fakeLab({ ...scenario([busy('sql-01')]), veeam: { jobs: [{ name: 'J', vms: ['sql-01'] }] } });
    f.lab.setManagementServer(false);
    for (const [op, args] of [
      ['Get-VmCachePolicy', { vm: 'sql-01' }],
      ['Get-VmFlushState', { vm: 'sql-01' }],
      ['Set-VmWriteThrough', { vm: 'sql-01' }],
      ['Restore-VmCachePolicy', { vm: 'sql-01', policy: WB1 }],
      ['Get-ProxyVadp', { vm: 'proxy-01' }],
      ['Connect-Endpoint', { server: 'fvp' }],
    ] as const) {
      const error = errorOf(await f.call('fvp', op, args as never));
      assert.equal(error.category, 'transient', op);
      assert.match(error.message, /Could not connect to FVP Management Server/);
    }
    assert.equal(judgeDoctor('fvp', RawDoctor.parse(await f.ok('fvp', 'Get-Doctor', {}))).serverReachable, false);
    assert.equal((await f.call('veeam', 'Get-BackupJob', { job: 'J' })).ok, true);
    assert.equal(f.lab.view().fvp.vms[0]!.requested.mode, 'WriteBack', 'the failed switch did not happen');
    f.lab.setManagementServer(true);
    assert.equal((await f.call('fvp', 'Get-VmFlushState', { vm: 'sql-01' })).ok, true);
  });

  test('an unknown VM is a permanent vendor error naming it; hostile names are plain data', async () => {
    const hostile = [
      `x'; Remove-Item C:\\ -Recurse; '`,
      'a"b`$(Get-Date)`n\nline2',
      'Ünïcødé ✓ 名前 🚀',
      'v'.repeat(4096),
    ];
    const f = await fakeLab(scenario(hostile.map((name) => busy(name))));
    for (const name of hostile) {
      const policy = (await f.policy(name))!;
      assert.equal(policy.vm, name);
      await f.ok('fvp', 'Set-VmWriteThrough', { vm: name });
    }
    // The read is raw: no Get-PrnxVM object has that name (the activities read that as "unknown").
    assert.deepEqual(await f.ok('fvp', 'Get-VmCachePolicy', { vm: 'nope-01' }), { matches: [] });
    assert.equal(await f.policy('nope-01'), null);
    const error = errorOf(await f.call('fvp', 'Set-VmWriteThrough', { vm: 'nope-01' }));
    assert.equal(error.category, 'permanent', 'a "was not found" vendor error');
    assert.equal(error.type, 'PernixData.Prnx.PrnxException');
    assert.match(error.message, /"nope-01"/);
    const logged = f.lab
      .invocations({ op: 'Set-VmWriteThrough' })
      .invocations.map((r) => (r.args as { vm: string }).vm);
    assert.deepEqual(logged, [...hostile, 'nope-01']);
  });

  test('a VM outside the FVP cluster reads as write-through; FVP refuses a write to it (the worker never sends one)', async () => {
    const f = await fakeLab(scenario([busy('plain-01', { accelerated: false })]));
    const policy = (await f.policy('plain-01'))!;
    assert.equal(policy.accelerated, false);
    assert.equal(policy.effective, 'WriteThrough');
    const error = errorOf(await f.call('fvp', 'Set-VmWriteThrough', { vm: 'plain-01' }));
    assert.equal(error.type, 'PernixData.Prnx.PrnxException');
    assert.equal(error.category, 'unrecognised', "its text is the lab's guess: no rule knows it");
  });

  test('proxy VADP blacklist: Set-PrnxProperty -Name cachePolicy -Value 1, read back from the raw Get-PrnxVM', async () => {
    const f = await fakeLab(scenario([]));
    const vadp = async (vm: string) =>
      interpretProxyVadp(vm, (await f.ok('fvp', 'Get-ProxyVadp', { vm })) as RawFvpVmMatches);
    assert.equal(await vadp('proxy-01'), false);
    assert.deepEqual(await f.ok('fvp', 'Set-ProxyVadp', { vm: 'proxy-01', property: 'cachePolicy', value: 1 }), {
      vm: 'proxy-01',
      sent: true,
    });
    assert.equal(await vadp('proxy-01'), true);
    await f.ok('fvp', 'Set-ProxyVadp', { vm: 'proxy-01', property: 'cachePolicy', value: 3 });
    assert.equal(await vadp('proxy-01'), false);
    assert.deepEqual(await f.ok('fvp', 'Get-ProxyVadp', { vm: 'proxy-02' }), { matches: [] });
    assert.equal(
      errorOf(await f.call('fvp', 'Set-ProxyVadp', { vm: 'proxy-02', property: 'cachePolicy', value: 1 })).category,
      'permanent',
    );
    const raw = (await f.ok('fvp', 'Get-ProxyVadp', { vm: 'proxy-01' })) as RawFvpVmMatches;
    delete raw.matches[0]!.vm.cachePolicy;
    assert.throws(() => interpretProxyVadp('proxy-01', raw), /vadpBlacklist/);
  });
});

describe('the simulated module boundary', () => {
  test('invalid arguments are a permanent error naming the field', async () => {
    const f = await fakeLab(scenario([busy('sql-01')]));
    const missing = errorOf(await f.call('fvp', 'Get-VmCachePolicy', {} as never));
    assert.equal(missing.category, 'permanent');
    assert.equal(missing.type, 'InvalidArgument');
    assert.match(missing.message, /\bvm\b/);
    const negative = errorOf(await f.call('fvp', 'Set-VmWriteThrough', { vm: 'sql-01', waitTimeSeconds: -1 }));
    assert.match(negative.message, /waitTimeSeconds/);
    const extra = errorOf(await f.call('fvp', 'Get-VmCachePolicy', { vm: 'sql-01', force: true } as never));
    assert.match(extra.message, /force/);
  });

  test('unknown operations and operations of the other endpoint are not recognized', async () => {
    const f = await fakeLab(scenario([busy('sql-01')]));
    const unknown = errorOf(await f.call('fvp', 'Remove-Everything' as never, {} as never));
    assert.equal(unknown.type, 'CommandNotFound');
    assert.equal(unknown.category, 'permanent');
    const wrong = errorOf(await f.call('veeam', 'Get-VmCachePolicy', { vm: 'sql-01' }));
    assert.equal(wrong.type, 'CommandNotFound');
  });

  test('ops from a host process that never connected fail not-connected', async () => {
    const f = await fakeLab(scenario([busy('sql-01')]));
    const error = errorOf(await f.call('fvp', 'Get-VmCachePolicy', { vm: 'sql-01' }, 42));
    assert.equal(error.category, 'not-connected');
    await f.ok('fvp', 'Connect-Endpoint', { server: 'fvp' }, 42);
    assert.equal((await f.call('fvp', 'Get-VmCachePolicy', { vm: 'sql-01' }, 42)).ok, true);
    assert.equal(errorOf(await f.call('veeam', 'Get-BackupJob', { job: 'x' }, 42)).category, 'not-connected');
  });

  test('Connect-Endpoint checks credentials and never echoes the password', async () => {
    const f = await fakeLab({
      ...scenario([busy('sql-01')]),
      credentials: { fvp: { user: 'svc-fvp', password: 's3cr3t-pa55' } },
    });
    const connect = (credential: { user: string; password: string } | null) =>
      f.lab.invoke({ endpoint: 'fvp', pid: 7, op: 'Connect-Endpoint', args: { server: 'fvp' }, credential });
    const envelope = async (credential: { user: string; password: string } | null) => {
      const response = await connect(credential);
      assert.equal(response.kind, 'print');
      return Envelope.parse(JSON.parse(response.kind === 'print' ? response.stdout : ''));
    };
    for (const credential of [
      null,
      { user: 'svc-fvp', password: 'wrong' },
      { user: 'other', password: 's3cr3t-pa55' },
    ]) {
      const error = errorOf(await envelope(credential));
      assert.equal(error.category, 'permanent');
      assert.match(error.message, /authentication failed/);
      assert.doesNotMatch(error.message, /s3cr3t|wrong/);
    }
    assert.equal(errorOf(await f.call('fvp', 'Get-VmCachePolicy', { vm: 'sql-01' }, 7)).category, 'not-connected');
    assert.equal((await envelope({ user: 'svc-fvp', password: 's3cr3t-pa55' })).ok, true);
    assert.equal((await f.call('fvp', 'Get-VmCachePolicy', { vm: 'sql-01' }, 7)).ok, true);
    const persisted = JSON.stringify(f.lab.state) + JSON.stringify(f.lab.invocations());
    assert.doesNotMatch(persisted, /s3cr3t-pa55/);
    assert.equal(f.lab.invocations({ op: 'Connect-Endpoint' }).invocations.at(-1)!.credentialSupplied, true);
  });

  test('Get-Doctor says it is the lab and lists the unconfirmed facts', async () => {
    const f = await fakeLab(scenario([]));
    const fvp = judgeDoctor('fvp', RawDoctor.parse(await f.ok('fvp', 'Get-Doctor', {})));
    assert.equal(fvp.psEdition, 'Desktop');
    assert.match(fvp.psVersion, /^5\.1/);
    assert.ok(fvp.problems.some((p) => /simulator/.test(p)));
    assert.ok(fvp.problems.some((p) => /WaitTimeSeconds/.test(p)));
    const veeam = (await f.ok('veeam', 'Get-Doctor', {})) as { psEdition: string; psVersion: string };
    assert.equal(veeam.psEdition, 'Core');
    assert.match(veeam.psVersion, /^7\.4/);
  });
});
