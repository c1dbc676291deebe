/**
 * Coalesced FVP reads (issue 12 section 2): flush reads running at the same time in one worker (a
 * guard's waitForFlush each) share one Get-PrnxVM listing per poll round, then read per VM by
 * uuid; they read exactly what the per-VM read (Get-VmFlushState) reads, on every vendor profile.
 * The lab's management server serves one call at a time and charges a listing per VM listed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createFvpActivities } from '../../activities/fvp';
import { FvpListing } from '../../activities/fvp-listing';
import type { OperationInvoker } from '../../activities/invoker';
import { PowerShellError } from '../../activities/powershell/errors';
import type { RawFvpVmMatches } from '../../activities/powershell/operations';
import { interpretFlushState, interpretFvpServer } from '../../activities/vendor/interpret';
import type { RequestedPolicy } from '../../domain/policy';
import { fvpServerLoad, resetFvpServerLoad } from '../../lab/model/fvp-server';
import { PROFILES, PROFILE_NAMES } from '../../lab/model/profile';
import { rawServer } from '../../lab/model/raw';
import { FakeClock, fakeLab, fvpInvoker } from '../../lab/testing';

const WB1: RequestedPolicy = { mode: 'WriteBack', peers: 1, externalPeers: null };
const WT: RequestedPolicy = { mode: 'WriteThrough', peers: 0, externalPeers: null };
const NAMES = Array.from({ length: 20 }, (_, i) => `vm-${String(i).padStart(2, '0')}`);

/** The lab on the wall clock: the management server's charges take real time. */
class WallClock extends FakeClock {
  override now = (): number => Date.now();
  override sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
}

async function lab(profile: (typeof PROFILE_NAMES)[number], cost = { callMs: 0, listingPerVmMs: 0 }) {
  const f = await fakeLab(
    {
      vendor: PROFILES[profile],
      fvp: {
        managementCost: cost,
        // Half destaging after a switch, half write-back: every kind of answer.
        vms: NAMES.map((name, i) => ({
          name,
          requested: i % 2 === 0 ? WT : WB1,
          writeIntervalMs: 10,
          destageMs: 5_000,
        })),
      },
    },
    // The wall clock only where the server's charges must take real time; else the lab's fixed clock.
    cost.callMs + cost.listingPerVmMs > 0 ? new WallClock() : new FakeClock(),
  );
  return f;
}

for (const profile of PROFILE_NAMES) {
  describe(`coalesced flush reads on ${profile}`, () => {
    test('20 concurrent flush reads share one listing per round and read what the per-VM read reads', async () => {
      const f = await lab(profile);
      const acts = createFvpActivities({ fvp: fvpInvoker(f) });
      resetFvpServerLoad(f.lab.state);
      const states = await Promise.all(
        NAMES.map((vm) =>
          new MockActivityEnvironment().run(() =>
            acts.waitForFlush({ vms: [vm], pollIntervalMs: 60_000, returnAfterMs: 0 }),
          ),
        ),
      );
      const load = fvpServerLoad(f.lab.state);
      assert.equal(load.listings, 1, 'one listing for the round');
      // Per VM: requested, effective, statistics; the server's build and licence once, shared by
      // the 20 activities that asked while it was in flight (it was one per activity attempt).
      assert.equal(load.calls, 1 + 3 * NAMES.length + 1);
      // Asked after that read answered, an attempt reads the server again (an upgrade is seen at once).
      const serverReads = () => f.lab.invocations({ op: 'Get-FvpServer' }).invocations.length;
      const before = serverReads();
      await new MockActivityEnvironment().run(() => acts.readCachePolicy({ vm: NAMES[0] as string }));
      assert.equal(serverReads(), before + 1);

      const facts = interpretFvpServer([rawServer(PROFILES[profile])]);
      const args = (vm: string) =>
        facts.statsStartTime === undefined ? { vm } : { vm, startTime: facts.statsStartTime };
      for (const [i, vm] of NAMES.entries()) {
        const perVm = interpretFlushState(
          vm,
          (await f.ok('fvp', 'Get-VmFlushState', args(vm))) as RawFvpVmMatches,
          facts,
        );
        assert.deepEqual(states[i], [perVm], vm);
      }
    });
  });
}

describe('the listing', () => {
  test('is read again once older than the round; a failed one is never handed out again', async () => {
    let t = 0;
    let calls = 0;
    let fail = false;
    const fvp: OperationInvoker = {
      async invoke() {
        calls += 1;
        if (fail) throw new PowerShellError('down', { op: 'Get-FvpVms', endpoint: 'fvp', category: 'transient' });
        return { vms: [{ Name: `v${calls}` }] } as never;
      },
    };
    const listing = new FvpListing(fvp, () => t);
    const env = new MockActivityEnvironment();
    await env.run(() => listing.vms(1000));
    t = 999;
    assert.deepEqual(await env.run(() => listing.vms(1000)), [{ Name: 'v1' }], 'within the round: shared');
    t = 1000;
    assert.deepEqual(await env.run(() => listing.vms(1000)), [{ Name: 'v2' }], 'a new round: read again');
    fail = true;
    t = 2500;
    await assert.rejects(env.run(() => listing.vms(1000)));
    fail = false;
    t = 2501;
    assert.deepEqual(await env.run(() => listing.vms(1000)), [{ Name: 'v4' }], 'the failed listing is not reused');
  });

  test('a fresh read joins a listing still in flight, never one that already answered', async () => {
    let calls = 0;
    const pending: (() => void)[] = [];
    /** Lets every listing asked so far answer. */
    const answerAll = async () => {
      await new Promise((resolve) => setImmediate(resolve));
      for (const answer of pending.splice(0)) answer();
    };
    const fvp: OperationInvoker = {
      async invoke() {
        calls += 1;
        const n = calls;
        await new Promise<void>((resolve) => pending.push(resolve));
        return { vms: [{ Name: `v${n}` }] } as never;
      },
    };
    const listing = new FvpListing(fvp);
    // Many guards switching at once: the reads that decide their writes share one listing.
    const reads = Array.from({ length: 5 }, () => new MockActivityEnvironment().run(() => listing.fresh()));
    await answerAll();
    await Promise.all(reads);
    assert.equal(calls, 1, 'one listing for the five');
    // Answered: the next fresh read lists again (a VM renamed since must be seen), where a round's read shares it.
    assert.deepEqual(await new MockActivityEnvironment().run(() => listing.vms(60_000)), [{ Name: 'v1' }]);
    const next = new MockActivityEnvironment().run(() => listing.fresh());
    await answerAll();
    assert.deepEqual(await next, [{ Name: 'v2' }]);
    assert.equal(calls, 2);
  });

  test('a listing cancelled with the activity that started it is read again by the others, not failed', async () => {
    let calls = 0;
    const fvp: OperationInvoker = {
      async invoke() {
        calls += 1;
        if (calls === 1) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          throw new PowerShellError('cancelled', {
            op: 'Get-FvpVms',
            endpoint: 'fvp',
            category: 'cancelled-in-flight',
          });
        }
        return { vms: [{ Name: 'ok' }] } as never;
      },
    };
    const listing = new FvpListing(fvp);
    const first = new MockActivityEnvironment().run(() => listing.vms(60_000));
    const second = new MockActivityEnvironment().run(() => listing.vms(60_000));
    await assert.rejects(first, /cancelled/);
    assert.deepEqual(await second, [{ Name: 'ok' }]);
    assert.equal(calls, 2);
  });

  test('the lab serialises management calls and charges a listing per VM listed', async () => {
    const f = await lab('common', { callMs: 5, listingPerVmMs: 1 });
    resetFvpServerLoad(f.lab.state);
    const started = Date.now();
    await Promise.all([f.ok('fvp', 'Get-FvpVms', {}), f.ok('fvp', 'Get-FvpVms', {})]);
    const elapsed = Date.now() - started;
    assert.deepEqual(fvpServerLoad(f.lab.state), { calls: 2, listings: 2, busyMs: 2 * (5 + NAMES.length) });
    assert.ok(elapsed >= 2 * (5 + NAMES.length) - 5, `served one after the other (${elapsed} ms)`);
  });
});
