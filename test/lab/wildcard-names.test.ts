/**
 * Names with wildcard characters (issue 10 item 4, review-reliability.md finding 9): whether
 * Set-PrnxAccelerationPolicy -Name takes a wildcard pattern is unknown, so the lab can do either
 * (scenario fvp.nameParameter). Where it does, a raw `web[1]` selects `web1`; the activities never
 * send such a name by -Name, by name or by uuid, and with -UUID they write the one VM.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createFvpActivities } from '../../activities/fvp';
import { FVP } from '../../activities/vendor/facts';
import type { RequestedPolicy } from '../../domain/policy';
import { wildcardMatches } from '../../lab/model/wildcard';
import type { ScenarioInput } from '../../lab/scenario';
import { fakeLab, fvpInvoker, type FakeLab } from '../../lab/testing';

const WB1: RequestedPolicy = { mode: 'WriteBack', peers: 1, externalPeers: null };
const WT: RequestedPolicy = { mode: 'WriteThrough', peers: 0, externalPeers: null };
const NAMES = ['web[1]', 'web1', 'Web2', 'web[1]x'];

function scenario(nameParameter: 'literal' | 'wildcard'): ScenarioInput {
  return { fvp: { nameParameter, vms: NAMES.map((name) => ({ name, requested: WB1 })) } };
}

function modes(f: FakeLab): Record<string, string> {
  return Object.fromEntries(f.lab.view().fvp.vms.map((v) => [v.name, v.requested.mode]));
}

describe("the lab's -Name", () => {
  test('PowerShell wildcard patterns: sets, ranges, ?, *, backtick escapes, any case', () => {
    const cases: [string, string, boolean][] = [
      ['web[1]', 'web1', true],
      ['web[1]', 'web[1]', false],
      ['web`[1`]', 'web[1]', true],
      ['web`[1`]', 'web1', false],
      ['web[1-3]', 'WEB2', true],
      ['web?', 'web1', true],
      ['web?', 'web12', false],
      ['*', 'anything', true],
      ['web[1', 'web[1', false],
      ['a.b', 'axb', false],
    ];
    for (const [pattern, name, expected] of cases) {
      assert.equal(wildcardMatches(pattern, name), expected, `${pattern} ~ ${name}`);
    }
  });

  test('literal by default: web[1] is web[1] only', async () => {
    const f = await fakeLab(scenario('literal'));
    await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'web[1]' });
    assert.deepEqual(modes(f), {
      'web[1]': 'WriteThrough',
      web1: 'WriteBack',
      Web2: 'WriteBack',
      'web[1]x': 'WriteBack',
    });
  });

  test('as a wildcard pattern: web[1] selects web1, not itself; * selects every VM', async () => {
    const f = await fakeLab(scenario('wildcard'));
    await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'web[1]' });
    assert.deepEqual(modes(f), {
      'web[1]': 'WriteBack',
      web1: 'WriteThrough',
      Web2: 'WriteBack',
      'web[1]x': 'WriteBack',
    });
    await f.ok('fvp', 'Restore-VmCachePolicy', { vm: '*', policy: WT });
    assert.ok(Object.values(modes(f)).every((m) => m === 'WriteThrough'));
  });
});

describe('the activities on a -Name that takes wildcards', () => {
  async function setup() {
    const f = await fakeLab(scenario('wildcard'));
    const acts = createFvpActivities({ fvp: fvpInvoker(f) });
    const mock = new MockActivityEnvironment();
    const run = <R>(fn: () => Promise<R>): Promise<R> => mock.run(fn) as Promise<R>;
    const uuid = f.lab.view().fvp.vms.find((v) => v.name === 'web[1]')!.uuid;
    return { f, acts, run, uuid };
  }

  async function unsafe(promise: Promise<unknown>): Promise<void> {
    await assert.rejects(promise, (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.type, 'UnsafeVmName', err.message);
      assert.equal(err.nonRetryable, true);
      return true;
    });
  }

  test('by name and by uuid, web[1] is refused before anything is sent: web1 is never touched', async () => {
    const { f, acts, run, uuid } = await setup();
    assert.equal(FVP.setPolicyTarget.value, 'Name');
    await unsafe(run(() => acts.setWriteThrough({ vm: 'web[1]', expected: WB1 })));
    await unsafe(run(() => acts.setWriteThrough({ vm: 'web[1]', uuid, expected: WB1 })));
    f.lab.setVmPolicy('web[1]', WT);
    await unsafe(run(() => acts.restoreCachePolicy({ vm: 'web[1]', uuid, policy: WB1, expected: WT })));
    assert.equal(f.lab.invocations({ op: 'Set-VmWriteThrough' }).invocations.length, 0);
    assert.equal(f.lab.invocations({ op: 'Restore-VmCachePolicy' }).invocations.length, 0);
    assert.deepEqual(modes(f), {
      'web[1]': 'WriteThrough',
      web1: 'WriteBack',
      Web2: 'WriteBack',
      'web[1]x': 'WriteBack',
    });
  });

  test('with -UUID the same VM is written, and only it', async () => {
    const { f, acts, run, uuid } = await setup();
    const fact = FVP.setPolicyTarget as { value: 'Name' | 'UUID' };
    fact.value = 'UUID';
    try {
      const after = await run(() => acts.setWriteThrough({ vm: 'web[1]', uuid, expected: WB1 }));
      assert.equal(after.vm, 'web[1]');
    } finally {
      fact.value = 'Name';
    }
    assert.deepEqual(modes(f), {
      'web[1]': 'WriteThrough',
      web1: 'WriteBack',
      Web2: 'WriteBack',
      'web[1]x': 'WriteBack',
    });
  });
});
