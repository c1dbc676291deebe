/**
 * Writes on the vendor side are conditional: Set-VmWriteThrough and Restore-VmCachePolicy name the
 * requested policy they expect to replace and write nothing when someone else changed it; a write
 * whose target is already in place succeeds without writing (a retry after a lost answer).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Envelope } from '../../activities/powershell/operations';
import type { RequestedPolicy, VmPolicy } from '../../domain/policy';
import { fakeLab } from '../../lab/testing';
import type { ScenarioInput } from '../../lab/scenario';

const WB1: RequestedPolicy = { mode: 'WriteBack', peers: 1, externalPeers: null };
const WB2: RequestedPolicy = { mode: 'WriteBack', peers: 2, externalPeers: null };
const WT: RequestedPolicy = { mode: 'WriteThrough', peers: 0, externalPeers: null };

const scenario: ScenarioInput = {
  fvp: {
    vms: [
      { name: 'sql-01', requested: WB1, writeIntervalMs: 10, destageMs: 300 },
      { name: 'plain-01', accelerated: false },
    ],
  },
};

function errorOf(envelope: Envelope) {
  if (envelope.ok) assert.fail(`expected an error envelope, got ${JSON.stringify(envelope)}`);
  return envelope.error;
}

/** Policy writes the lab recorded for a VM (the scenario's own first event excluded). */
function writes(f: Awaited<ReturnType<typeof fakeLab>>, vm: string) {
  return f.lab
    .timeline()
    .find((t) => t.vm === vm)!
    .events.slice(1);
}

describe('conditional policy writes', () => {
  test('Set-VmWriteThrough writes when the VM has the expected policy', async () => {
    const f = await fakeLab(scenario);
    const after = (await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'sql-01', expected: WB1 })) as VmPolicy;
    assert.deepEqual(after.requested, WT);
    assert.deepEqual(
      writes(f, 'sql-01').map((e) => e.source),
      ['Set-VmWriteThrough'],
    );
  });

  test('Set-VmWriteThrough refuses policy-changed, and writes nothing, when an admin changed the policy', async () => {
    const f = await fakeLab(scenario);
    f.lab.setVmPolicy('sql-01', WB2);
    const error = errorOf(await f.call('fvp', 'Set-VmWriteThrough', { vm: 'sql-01', expected: WB1 }));
    assert.equal(error.category, 'policy-changed');
    assert.equal(error.type, 'PolicyChanged');
    assert.match(error.message, /"sql-01"/);
    assert.match(error.message, /"peers":2/, 'names the policy it found');
    assert.deepEqual(f.lab.view().fvp.vms[0]!.requested, WB2, 'the admin policy stays');
    assert.deepEqual(
      writes(f, 'sql-01').map((e) => e.source),
      ['admin'],
    );
  });

  test('Set-VmWriteThrough is idempotent: already write-through succeeds without writing, whatever was expected', async () => {
    const f = await fakeLab(scenario);
    await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'sql-01', expected: WB1 });
    // The retry of an attempt whose answer was lost still expects the old write-back policy.
    const again = (await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'sql-01', expected: WB1 })) as VmPolicy;
    assert.deepEqual(again.requested, WT);
    assert.equal(writes(f, 'sql-01').length, 1, 'one write only');
  });

  test('Restore-VmCachePolicy writes back when the VM is still in the expected write-through', async () => {
    const f = await fakeLab(scenario);
    await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'sql-01', expected: WB1 });
    const after = (await f.ok('fvp', 'Restore-VmCachePolicy', {
      vm: 'sql-01',
      policy: WB1,
      expected: WT,
    })) as VmPolicy;
    assert.deepEqual(after.requested, WB1);
  });

  test('Restore-VmCachePolicy refuses policy-changed when the VM is no longer in write-through', async () => {
    const f = await fakeLab(scenario);
    await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'sql-01', expected: WB1 });
    f.lab.setVmPolicy('sql-01', WB2);
    const error = errorOf(await f.call('fvp', 'Restore-VmCachePolicy', { vm: 'sql-01', policy: WB1, expected: WT }));
    assert.equal(error.category, 'policy-changed');
    assert.deepEqual(f.lab.view().fvp.vms[0]!.requested, WB2, 'the admin policy is not overwritten');
  });

  test('Restore-VmCachePolicy is idempotent: the target in place succeeds without writing', async () => {
    const f = await fakeLab(scenario);
    await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'sql-01', expected: WB1 });
    await f.ok('fvp', 'Restore-VmCachePolicy', { vm: 'sql-01', policy: WB1, expected: WT });
    const again = (await f.ok('fvp', 'Restore-VmCachePolicy', {
      vm: 'sql-01',
      policy: WB1,
      expected: WT,
    })) as VmPolicy;
    assert.deepEqual(again.requested, WB1);
    assert.deepEqual(
      writes(f, 'sql-01').map((e) => e.source),
      ['Set-VmWriteThrough', 'Restore-VmCachePolicy'],
    );
  });

  test('the precondition compares as samePolicy: null and 0 external peers are equal, write-through peers ignored', async () => {
    const f = await fakeLab(scenario);
    await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'sql-01', expected: { ...WB1, externalPeers: 0 } });
    await f.ok('fvp', 'Restore-VmCachePolicy', {
      vm: 'sql-01',
      policy: WB1,
      expected: { mode: 'WriteThrough', peers: 2, externalPeers: 1 },
    });
    assert.deepEqual(f.lab.view().fvp.vms[0]!.requested, WB1);
    // And the target "in place" is judged the same way: no write for a null/0 difference.
    await f.ok('fvp', 'Restore-VmCachePolicy', { vm: 'sql-01', policy: { ...WB1, externalPeers: 0 }, expected: WT });
    assert.equal(writes(f, 'sql-01').length, 2);
  });

  test('without expected the writes stay unconditional (callers not converted yet)', async () => {
    const f = await fakeLab(scenario);
    f.lab.setVmPolicy('sql-01', WB2);
    await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'sql-01' });
    await f.ok('fvp', 'Restore-VmCachePolicy', { vm: 'sql-01', policy: WB1 });
    assert.deepEqual(f.lab.view().fvp.vms[0]!.requested, WB1);
  });

  test('a VM outside the FVP cluster still refuses as not accelerated, conditional or not', async () => {
    const f = await fakeLab(scenario);
    const error = errorOf(await f.call('fvp', 'Set-VmWriteThrough', { vm: 'plain-01', expected: WB1 }));
    assert.equal(error.type, 'VmNotAccelerated');
  });

  test('a malformed expected policy is a permanent error naming the field', async () => {
    const f = await fakeLab(scenario);
    const error = errorOf(
      await f.call('fvp', 'Set-VmWriteThrough', { vm: 'sql-01', expected: { mode: 'Fast' } as never }),
    );
    assert.equal(error.category, 'permanent');
    assert.match(error.message, /expected/);
  });
});
