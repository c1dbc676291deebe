/**
 * Policy writes are conditional, and every decision of them is TypeScript's (issue 11,
 * activities/policy-write.ts): the module only sends Set-PrnxAccelerationPolicy. The activities
 * name the requested policy they expect to replace and write nothing when someone else changed it
 * (PolicyChanged); a target already in place is not written again (a retry after a lost answer); a
 * VM FVP does not know or does not accelerate is refused before anything is sent; a name-targeted
 * write never reaches a VM whose name holds wildcard characters. On every vendor profile: policy as
 * text or object, FVP 3.0 / 3.1+, Standard / Enterprise.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createFvpActivities } from '../../activities/fvp';
import { FVP } from '../../activities/vendor/facts';
import type { RequestedPolicy } from '../../domain/policy';
import { PROFILES, PROFILE_NAMES } from '../../lab/model/profile';
import { fakeLab, fvpInvoker, type FakeLab } from '../../lab/testing';
import type { ScenarioInput } from '../../lab/scenario';

const WB1: RequestedPolicy = { mode: 'WriteBack', peers: 1, externalPeers: null };
const WB2: RequestedPolicy = { mode: 'WriteBack', peers: 2, externalPeers: null };
const WT: RequestedPolicy = { mode: 'WriteThrough', peers: 0, externalPeers: null };
const WILD = '[sql]*-0?';

function scenario(profile: (typeof PROFILE_NAMES)[number]): ScenarioInput {
  return {
    vendor: PROFILES[profile],
    fvp: {
      faultDomains: PROFILES[profile].fvpLicence === 'Enterprise',
      vms: [
        { name: 'sql-01', requested: WB1, writeIntervalMs: 10, destageMs: 300 },
        { name: 'plain-01', accelerated: false },
        { name: WILD, requested: WB1 },
        { name: '[sql]x-01', requested: WB1 },
      ],
    },
  };
}

async function setup(profile: (typeof PROFILE_NAMES)[number]) {
  const f = await fakeLab(scenario(profile));
  const acts = createFvpActivities({ fvp: fvpInvoker(f) });
  const mock = new MockActivityEnvironment();
  const run = <R>(fn: () => Promise<R>): Promise<R> => mock.run(fn) as Promise<R>;
  return { f, acts, run };
}

/** Policy writes the lab recorded for a VM (the scenario's own first event excluded). */
function writes(f: FakeLab, vm: string): string[] {
  return f.lab
    .timeline()
    .find((t) => t.vm === vm)!
    .events.slice(1)
    .map((e) => e.source);
}

function requested(f: FakeLab, vm: string): RequestedPolicy {
  return f.lab.view().fvp.vms.find((v) => v.name === vm)!.requested;
}

async function refusal(promise: Promise<unknown>, type: string): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, type, err.message);
    assert.equal(err.nonRetryable, true);
    return err;
  }
  assert.fail(`expected ${type}`);
}

for (const profile of PROFILE_NAMES) {
  describe(`conditional policy writes on ${profile}`, () => {
    test('setWriteThrough writes when the VM has the expected policy, and returns what FVP reads now', async () => {
      const { f, acts, run } = await setup(profile);
      f.clock.advance(1000);
      const after = await run(() => acts.setWriteThrough({ vm: 'sql-01', expected: WB1 }));
      assert.deepEqual(after.requested, WT);
      assert.equal(after.effective, 'WriteBack', 'the effective policy lags while dirty data destages');
      assert.deepEqual(writes(f, 'sql-01'), ['Set-VmWriteThrough']);
    });

    test('setWriteThrough refuses PolicyChanged, and writes nothing, when an admin changed the policy', async () => {
      const { f, acts, run } = await setup(profile);
      f.lab.setVmPolicy('sql-01', WB2);
      const failure = await refusal(
        run(() => acts.setWriteThrough({ vm: 'sql-01', expected: WB1 })),
        'PolicyChanged',
      );
      assert.match(failure.message, /"sql-01"/);
      assert.match(failure.message, /"peers":2/, 'names the policy it found');
      assert.deepEqual(requested(f, 'sql-01'), WB2, 'the admin policy stays');
      assert.deepEqual(writes(f, 'sql-01'), ['admin']);
      assert.equal(f.lab.invocations({ op: 'Set-VmWriteThrough' }).invocations.length, 0, 'nothing sent');
    });

    test('already write-through: no write, whatever was expected (the retry of a lost answer)', async () => {
      const { f, acts, run } = await setup(profile);
      await run(() => acts.setWriteThrough({ vm: 'sql-01', expected: WB1 }));
      const again = await run(() => acts.setWriteThrough({ vm: 'sql-01', expected: WB1 }));
      assert.deepEqual(again.requested, WT);
      assert.equal(f.lab.invocations({ op: 'Set-VmWriteThrough' }).invocations.length, 1, 'one write only');
    });

    test('restoreCachePolicy writes back from the expected write-through; refuses when the VM left it; no write when in place', async () => {
      const { f, acts, run } = await setup(profile);
      await run(() => acts.setWriteThrough({ vm: 'sql-01', expected: WB1 }));
      f.lab.setVmPolicy('sql-01', WB2);
      await refusal(
        run(() => acts.restoreCachePolicy({ vm: 'sql-01', policy: WB1, expected: WT })),
        'PolicyChanged',
      );
      assert.deepEqual(requested(f, 'sql-01'), WB2, 'the admin policy is not overwritten');
      f.lab.setVmPolicy('sql-01', WT);
      const after = await run(() => acts.restoreCachePolicy({ vm: 'sql-01', policy: WB1, expected: WT }));
      assert.deepEqual(after.requested, WB1);
      await run(() => acts.restoreCachePolicy({ vm: 'sql-01', policy: WB1, expected: WT }));
      assert.equal(f.lab.invocations({ op: 'Restore-VmCachePolicy' }).invocations.length, 1, 'in place: not again');
    });

    test('the precondition compares as samePolicy: null and 0 external peers are equal, write-through peers ignored', async () => {
      const { f, acts, run } = await setup(profile);
      await run(() => acts.setWriteThrough({ vm: 'sql-01', expected: { ...WB1, externalPeers: 0 } }));
      await run(() =>
        acts.restoreCachePolicy({
          vm: 'sql-01',
          policy: WB1,
          expected: { mode: 'WriteThrough', peers: 2, externalPeers: 1 },
        }),
      );
      assert.deepEqual(requested(f, 'sql-01'), WB1);
      await run(() => acts.restoreCachePolicy({ vm: 'sql-01', policy: { ...WB1, externalPeers: 0 }, expected: WT }));
      assert.equal(writes(f, 'sql-01').length, 2, 'no write for a null/0 difference');
    });

    test('external peers follow the licence: sent with fault domains, refused by name without', async () => {
      const { f, acts, run } = await setup(profile);
      const withPeer: RequestedPolicy = { mode: 'WriteBack', peers: 1, externalPeers: 1 };
      await run(() => acts.setWriteThrough({ vm: 'sql-01', expected: WB1 }));
      if (PROFILES[profile].fvpLicence === 'Enterprise') {
        const after = await run(() => acts.restoreCachePolicy({ vm: 'sql-01', policy: withPeer, expected: WT }));
        assert.deepEqual(after.requested, withPeer);
      } else {
        await refusal(
          run(() => acts.restoreCachePolicy({ vm: 'sql-01', policy: withPeer, expected: WT })),
          'ExternalPeersNotLicensed',
        );
        const after = await run(() => acts.restoreCachePolicy({ vm: 'sql-01', policy: WB1, expected: WT }));
        assert.deepEqual(after.requested, WB1);
        const sent = f.lab.invocations({ op: 'Restore-VmCachePolicy' }).invocations.map((i) => i.args);
        assert.deepEqual(sent, [{ vm: 'sql-01', policy: WB1 }], '-NumWBExternalPeers never sent on Standard');
      }
    });

    test('unknown and non-accelerated VMs are refused before anything is sent', async () => {
      const { f, acts, run } = await setup(profile);
      await refusal(
        run(() => acts.setWriteThrough({ vm: 'nope-01', expected: WB1 })),
        'VmNotFound',
      );
      await refusal(
        run(() => acts.setWriteThrough({ vm: 'plain-01', expected: WB1 })),
        'VmNotAccelerated',
      );
      await refusal(
        run(() => acts.restoreCachePolicy({ vm: 'plain-01', policy: WB1, expected: WT })),
        'VmNotAccelerated',
      );
      assert.equal(f.lab.invocations({ op: 'Set-VmWriteThrough' }).invocations.length, 0);
      assert.equal(f.lab.invocations({ op: 'Restore-VmCachePolicy' }).invocations.length, 0);
    });

    test('a name-targeted write refuses a VM whose name holds wildcard characters: no other VM is touched', async () => {
      const { f, acts, run } = await setup(profile);
      assert.equal(FVP.setPolicyTarget.value, 'Name');
      const failure = await refusal(
        run(() => acts.setWriteThrough({ vm: WILD, expected: WB1 })),
        'UnsafeVmName',
      );
      assert.match(failure.message, /setPolicyTarget/);
      assert.equal(f.lab.invocations({ op: 'Set-VmWriteThrough' }).invocations.length, 0, 'nothing sent');
      for (const vm of [WILD, '[sql]x-01', 'sql-01']) assert.deepEqual(requested(f, vm), WB1, `${vm} untouched`);
    });

    test('with the facts table set to -UUID, the same VM is written by its uuid, and only it', async () => {
      const { f, acts, run } = await setup(profile);
      const target = FVP.setPolicyTarget as { value: 'Name' | 'UUID' };
      target.value = 'UUID';
      try {
        const after = await run(() => acts.setWriteThrough({ vm: WILD, expected: WB1 }));
        assert.deepEqual(after.requested, WT);
      } finally {
        target.value = 'Name';
      }
      const [sent] = f.lab.invocations({ op: 'Set-VmWriteThrough' }).invocations;
      assert.deepEqual(sent?.args, { vm: WILD, uuid: f.lab.view().fvp.vms.find((v) => v.name === WILD)!.uuid });
      for (const vm of ['[sql]x-01', 'sql-01']) assert.deepEqual(requested(f, vm), WB1, `${vm} untouched`);
    });
  });
}
