/**
 * The FVP activities address a VM by its FVP uuid when the caller gives it (issue 10 item 4:
 * identity, not names), against the lab through the real activities: a VM renamed between the
 * calls is read, switched, polled and restored as itself and the answers carry its new name; a
 * same-name VM of another flash cluster is never read or written in its place; an unknown uuid is
 * "not known to FVP" (confirmed by uuid on a restore, never blamed on a rename); a duplicate uuid
 * fails closed; a -Name write (the facts table's default) never sends a name that could address
 * another VM. Without a uuid, everything stays by name (test/lab/conditional-writes.test.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createFvpActivities } from '../../activities/fvp';
import { FVP } from '../../activities/vendor/facts';
import type { RequestedPolicy } from '../../domain/policy';
import { PROFILES, PROFILE_NAMES, type ProfileName } from '../../lab/model/profile';
import type { ScenarioInput } from '../../lab/scenario';
import { fakeLab, fvpInvoker, type FakeLab } from '../../lab/testing';

const WB1: RequestedPolicy = { mode: 'WriteBack', peers: 1, externalPeers: null };
const WB2: RequestedPolicy = { mode: 'WriteBack', peers: 2, externalPeers: null };
const WT: RequestedPolicy = { mode: 'WriteThrough', peers: 0, externalPeers: null };
const POLL = { pollIntervalMs: 60_000, returnAfterMs: 0 };

const busy = (name: string, extra: object = {}) => ({
  name,
  requested: WB1,
  writeIntervalMs: 10,
  destageMs: 300,
  ...extra,
});

function scenario(profile: ProfileName, vms: object[] = []): ScenarioInput {
  return {
    vendor: PROFILES[profile],
    fvp: {
      faultDomains: PROFILES[profile].fvpLicence === 'Enterprise',
      vms: [busy('sql-01'), busy('web-01'), ...vms] as never,
    },
  };
}

async function setup(input: ScenarioInput) {
  const f = await fakeLab(input);
  const acts = createFvpActivities({ fvp: fvpInvoker(f) });
  const mock = new MockActivityEnvironment();
  const run = <R>(fn: () => Promise<R>): Promise<R> => mock.run(fn) as Promise<R>;
  return { f, acts, run };
}

function uuidOf(f: FakeLab, vm: string, nth = 0): string {
  return f.lab.view().fvp.vms.filter((v) => v.name === vm)[nth]!.uuid;
}

function requestedOf(f: FakeLab, uuid: string): RequestedPolicy {
  return f.lab.view().fvp.vms.find((v) => v.uuid === uuid)!.requested;
}

function sent(f: FakeLab, op: 'Set-VmWriteThrough' | 'Restore-VmCachePolicy'): unknown[] {
  return f.lab.invocations({ op }).invocations.map((i) => i.args);
}

async function refusal(promise: Promise<unknown>, type: string): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, type, err.message);
    assert.equal(err.nonRetryable, true, err.message);
    return err;
  }
  assert.fail(`expected ${type}`);
}

/** Runs `body` with the facts table's setPolicyTarget set to `target`, then puts 'Name' back. */
async function withTarget<R>(target: 'Name' | 'UUID', body: () => Promise<R>): Promise<R> {
  const fact = FVP.setPolicyTarget as { value: 'Name' | 'UUID' };
  fact.value = target;
  try {
    return await body();
  } finally {
    fact.value = 'Name';
  }
}

for (const profile of PROFILE_NAMES) {
  describe(`a VM renamed between the calls, addressed by uuid, on ${profile}`, () => {
    test('read, switch, flush and restore reach the renamed VM and answer its new name', async () => {
      const { f, acts, run } = await setup(scenario(profile));
      f.clock.advance(1000);
      const uuid = uuidOf(f, 'web-01');
      const read = await run(() => acts.readCachePolicy({ vm: 'web-01', uuid }));
      assert.deepEqual(read, { vm: 'web-01', uuid, accelerated: true, requested: WB1, effective: 'WriteBack' });

      f.lab.renameVm('web-01', 'web-02');
      assert.equal(await run(() => acts.readCachePolicy({ vm: 'web-01' })), null, 'by its old name: gone');
      const switched = await run(() => acts.setWriteThrough({ vm: 'web-01', uuid, expected: WB1 }));
      assert.equal(switched.vm, 'web-02');
      assert.equal(switched.uuid, uuid);
      assert.deepEqual(switched.requested, WT);
      // -Name (the facts table's default) by the name read by uuid just before, never the stale one.
      assert.deepEqual(sent(f, 'Set-VmWriteThrough'), [{ vm: 'web-02' }]);

      f.lab.renameVm('web-02', 'web-03');
      f.clock.advance(400);
      // Another worker's poll: this one's would share the listing its write read (a poll round may
      // show a name one round old; the VM is found by its uuid all the same).
      const poller = createFvpActivities({ fvp: fvpInvoker(f) });
      const [state] = await run(() => poller.waitForFlush({ vms: ['web-01'], uuids: [uuid], ...POLL }));
      assert.deepEqual(state, { vm: 'web-03', requested: WT, effective: 'WriteThrough', timeToDestageSeconds: 0 });
      const [shared] = await run(() => acts.waitForFlush({ vms: ['web-01'], uuids: [uuid], ...POLL }));
      assert.deepEqual(shared?.requested, WT, "this worker's poll finds it too, by uuid");

      f.lab.renameVm('web-03', 'web-04');
      const restored = await run(() => acts.restoreCachePolicy({ vm: 'web-01', uuid, policy: WB1, expected: WT }));
      assert.equal(restored.vm, 'web-04');
      assert.deepEqual(restored.requested, WB1);
      assert.deepEqual(requestedOf(f, uuid), WB1, 'the recorded policy is back on the renamed VM');
      assert.deepEqual(sent(f, 'Restore-VmCachePolicy'), [{ vm: 'web-04', policy: WB1 }]);
      assert.deepEqual(requestedOf(f, uuidOf(f, 'sql-01')), WB1, 'no other VM touched');
    });

    test('with -UUID in the facts table, the writes go by uuid', async () => {
      const { f, acts, run } = await setup(scenario(profile));
      const uuid = uuidOf(f, 'web-01');
      f.lab.renameVm('web-01', 'web-02');
      await withTarget('UUID', async () => {
        await run(() => acts.setWriteThrough({ vm: 'web-01', uuid, expected: WB1 }));
        await run(() => acts.restoreCachePolicy({ vm: 'web-01', uuid, policy: WB2, expected: WT }));
      });
      assert.deepEqual(sent(f, 'Set-VmWriteThrough'), [{ vm: 'web-02', uuid }]);
      assert.deepEqual(sent(f, 'Restore-VmCachePolicy'), [{ vm: 'web-02', uuid, policy: WB2 }]);
      assert.deepEqual(requestedOf(f, uuid), WB2);
    });
  });
}

describe('reads that decide writes list afresh', () => {
  test("a rename right after a flush round is seen by the next read: the round's listing is not reused", async () => {
    const { f, acts, run } = await setup(scenario('common'));
    const uuid = uuidOf(f, 'web-01');
    await run(() => acts.waitForFlush({ vms: ['web-01'], uuids: [uuid], ...POLL }));
    f.lab.renameVm('web-01', 'web[1]');
    const now = await run(() => acts.readCachePolicy({ vm: 'web-01', uuid }));
    assert.equal(now?.vm, 'web[1]');
    await refusal(
      run(() => acts.setWriteThrough({ vm: 'web-01', uuid, expected: WB1 })),
      'UnsafeVmName',
    );
    assert.equal(f.lab.invocations({ op: 'Get-FvpVms' }).invocations.length, 3, 'one listing per read');
    assert.equal(f.lab.invocations({ op: 'Get-VmCachePolicy' }).invocations.length, 0, 'never by name');
  });
});

describe('same-name VMs in two flash clusters', () => {
  const twins = (profile: ProfileName = 'common') =>
    scenario(profile, [busy('web-01', { flashCluster: 'FVP-Cluster-02', requested: WB2 })]);

  test('a read or flush poll by uuid sees its own VM; by name it is ambiguous', async () => {
    const { f, acts, run } = await setup(twins());
    const [one, twin] = [uuidOf(f, 'web-01', 0), uuidOf(f, 'web-01', 1)];
    assert.deepEqual((await run(() => acts.readCachePolicy({ vm: 'web-01', uuid: twin })))?.requested, WB2);
    assert.deepEqual((await run(() => acts.readCachePolicy({ vm: 'web-01', uuid: one })))?.requested, WB1);
    await refusal(
      run(() => acts.readCachePolicy({ vm: 'web-01' })),
      'VmAmbiguous',
    );
    const states = await run(() => acts.waitForFlush({ vms: ['web-01', 'web-01'], uuids: [twin, one], ...POLL }));
    assert.deepEqual(
      states.map((s) => s.requested),
      [WB2, WB1],
    );
  });

  test('with -Name, a write by uuid refuses a name its twin shares, and writes nothing', async () => {
    const { f, acts, run } = await setup(twins());
    const [one, twin] = [uuidOf(f, 'web-01', 0), uuidOf(f, 'web-01', 1)];
    const failure = await refusal(
      run(() => acts.setWriteThrough({ vm: 'web-01', uuid: one, expected: WB1 })),
      'VmAmbiguous',
    );
    assert.match(failure.message, /1 other FVP VM is named so/);
    assert.match(failure.message, new RegExp(one));
    await refusal(
      run(() => acts.restoreCachePolicy({ vm: 'web-01', uuid: twin, policy: WB1, expected: WB2 })),
      'VmAmbiguous',
    );
    assert.deepEqual(sent(f, 'Set-VmWriteThrough'), []);
    assert.deepEqual(sent(f, 'Restore-VmCachePolicy'), []);
    assert.deepEqual([requestedOf(f, one), requestedOf(f, twin)], [WB1, WB2], 'both untouched');
  });

  for (const profile of PROFILE_NAMES) {
    test(`with -UUID, a write by uuid changes that VM only, its twin untouched (${profile})`, async () => {
      const { f, acts, run } = await setup(twins(profile));
      const [one, twin] = [uuidOf(f, 'web-01', 0), uuidOf(f, 'web-01', 1)];
      await withTarget('UUID', async () => {
        const after = await run(() => acts.setWriteThrough({ vm: 'web-01', uuid: twin, expected: WB2 }));
        assert.equal(after.uuid, twin);
        await run(() => acts.restoreCachePolicy({ vm: 'web-01', uuid: twin, policy: WB1, expected: WT }));
      });
      assert.deepEqual([requestedOf(f, one), requestedOf(f, twin)], [WB1, WB1]);
      const sources = f.lab.timeline().map((t) => t.events.slice(1).map((e) => e.source));
      assert.deepEqual(sources, [[], [], ['Set-VmWriteThrough', 'Restore-VmCachePolicy']], 'only the twin written');
    });
  }
});

describe('a uuid FVP does not know', () => {
  test('reads null; switch, flush and restore say VmNotFound, the restore by uuid without blaming a rename', async () => {
    const { f, acts, run } = await setup(scenario('common'));
    const uuid = '00000000-0000-4000-8000-00000000dead';
    assert.equal(await run(() => acts.readCachePolicy({ vm: 'web-01', uuid })), null);
    const write = await refusal(
      run(() => acts.setWriteThrough({ vm: 'web-01', uuid, expected: WB1 })),
      'VmNotFound',
    );
    assert.match(write.message, new RegExp(uuid));
    await refusal(
      run(() => acts.waitForFlush({ vms: ['web-01'], uuids: [uuid], ...POLL })),
      'VmNotFound',
    );
    const restore = await refusal(
      run(() => acts.restoreCachePolicy({ vm: 'web-01', uuid, policy: WB1, expected: WT })),
      'VmNotFound',
    );
    assert.match(restore.message, /no VM has this uuid/);
    assert.doesNotMatch(restore.message, /renamed/);
    assert.deepEqual(sent(f, 'Set-VmWriteThrough'), []);
    assert.deepEqual(sent(f, 'Restore-VmCachePolicy'), []);
    assert.deepEqual(requestedOf(f, uuidOf(f, 'web-01')), WB1, 'the VM of that name is not touched');
  });

  test('a VM deleted from FVP after its switch: the restore by uuid confirms it gone; one leaving its cluster: VmNotAccelerated', async () => {
    const { f, acts, run } = await setup(scenario('common'));
    const [web, sql] = [uuidOf(f, 'web-01'), uuidOf(f, 'sql-01')];
    await run(() => acts.setWriteThrough({ vm: 'web-01', uuid: web, expected: WB1 }));
    await run(() => acts.setWriteThrough({ vm: 'sql-01', uuid: sql, expected: WB1 }));
    f.lab.removeVm('web-01', 'fvp');
    f.lab.removeVm('sql-01', 'cluster');
    await refusal(
      run(() => acts.restoreCachePolicy({ vm: 'web-01', uuid: web, policy: WB1, expected: WT })),
      'VmNotFound',
    );
    await refusal(
      run(() => acts.restoreCachePolicy({ vm: 'sql-01', uuid: sql, policy: WB1, expected: WT })),
      'VmNotAccelerated',
    );
  });
});

describe('a VM deleted between the listing and its policy read', () => {
  test('reads as a retryable failure, never as "gone" nor as a policy', async () => {
    const f = await fakeLab(scenario('common'));
    const lab = fvpInvoker(f);
    const acts = createFvpActivities({
      fvp: {
        async invoke(op, args) {
          // The VM leaves FVP right after the listing that found it.
          if (op === 'Get-VmPolicyStats') f.lab.removeVm('web-01', 'fvp');
          return lab.invoke(op, args);
        },
      },
    });
    const uuid = uuidOf(f, 'web-01');
    const mock = new MockActivityEnvironment();
    await assert.rejects(
      mock.run(() => acts.readCachePolicy({ vm: 'web-01', uuid })) as Promise<unknown>,
      (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure, String(err));
        assert.equal(err.nonRetryable, false, err.message);
        assert.match(err.message, /not found/);
        return true;
      },
    );
    // The next attempt lists afresh and finds no VM with the uuid.
    assert.equal(await mock.run(() => acts.readCachePolicy({ vm: 'web-01', uuid })), null);
  });
});

describe('two FVP VMs with one uuid', () => {
  test('fail closed: VmAmbiguous naming the uuid, for reads, polls and writes; nothing written', async () => {
    const uuid = '11111111-2222-4333-8444-555555555555';
    const { f, acts, run } = await setup({
      fvp: { vms: [busy('web-01', { uuid }), busy('web-02', { uuid })] as never },
    });
    const calls: (() => Promise<unknown>)[] = [
      () => acts.readCachePolicy({ vm: 'web-01', uuid }),
      () => acts.setWriteThrough({ vm: 'web-01', uuid, expected: WB1 }),
      () => acts.waitForFlush({ vms: ['web-01'], uuids: [uuid], ...POLL }),
      () => acts.restoreCachePolicy({ vm: 'web-01', uuid, policy: WB1, expected: WT }),
    ];
    for (const call of calls) {
      const failure = await refusal(run(call), 'VmAmbiguous');
      assert.match(failure.message, new RegExp(`2 FVP VMs have the uuid "${uuid}"`));
    }
    assert.deepEqual(sent(f, 'Set-VmWriteThrough'), []);
    assert.deepEqual(sent(f, 'Restore-VmCachePolicy'), []);
  });
});

describe('the -Name write path (facts setPolicyTarget: Name)', () => {
  test('a VM addressed by uuid whose current name holds wildcard characters is refused, nothing written', async () => {
    const { f, acts, run } = await setup(scenario('common', [busy('web1'), busy('webx')]));
    assert.equal(FVP.setPolicyTarget.value, 'Name');
    const uuid = uuidOf(f, 'web-01');
    await run(() => acts.setWriteThrough({ vm: 'web-01', uuid, expected: WB1 }));
    f.lab.renameVm('web-01', 'web[1]');
    for (const name of ['web[1]', 'web?', 'web*', 'web`1']) {
      f.lab.renameVm(f.lab.view().fvp.vms.find((v) => v.uuid === uuid)!.name, name);
      const failure = await refusal(
        run(() => acts.restoreCachePolicy({ vm: 'web-01', uuid, policy: WB1, expected: WT })),
        'UnsafeVmName',
      );
      assert.ok(failure.message.includes(`VM ${JSON.stringify(name)}:`), failure.message);
    }
    assert.deepEqual(sent(f, 'Restore-VmCachePolicy'), [], 'nothing sent');
    assert.deepEqual(requestedOf(f, uuid), WT, 'the VM stays as it was');
    for (const vm of ['web1', 'webx', 'sql-01'])
      assert.deepEqual(requestedOf(f, uuidOf(f, vm)), WB1, `${vm} untouched`);
  });

  test('waitForFlush refuses uuids that do not match its VMs one to one', async () => {
    const { acts, run } = await setup(scenario('common'));
    await refusal(
      run(() => acts.waitForFlush({ vms: ['web-01', 'sql-01'], uuids: ['x'], ...POLL })),
      'InvalidArgument',
    );
  });
});
