/**
 * Every interpretation of raw FVP output (activities/vendor/interpret.ts), on every vendor profile
 * of the lab, with no server: the raw shapes are the lab's (lab/model/raw.ts), the expected domain
 * shapes are the lab's own model (policyDoc, flushDoc). And every way the raw output can fail to
 * match the facts table fails closed: a non-retryable VendorMismatch naming the VM and the fact.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import type { RawFvpVm, RawFvpVmMatches } from '../../activities/powershell/operations';
import {
  interpretFlushState,
  interpretFvpServer,
  interpretProxyVadp,
  interpretVmPolicy,
  VENDOR_MISMATCH,
} from '../../activities/vendor/interpret';
import { flushDoc, policyDoc } from '../../lab/model/fvp';
import { PROFILES, PROFILE_NAMES, statsNeedStartTime } from '../../lab/model/profile';
import { rawProxy, rawServer, rawVm } from '../../lab/model/raw';
import type { VmState } from '../../lab/model/state';
import type { RequestedPolicy } from '../../domain/policy';

const T0 = Date.UTC(2025, 0, 1);

function vm(name: string, requested: RequestedPolicy, extra: Partial<VmState> = {}): VmState {
  return {
    name,
    uuid: `uuid-${name}`,
    accelerated: true,
    hostHasFlash: true,
    writeIntervalMs: 10,
    destageMs: 300,
    writeAnchor: T0 - 1_000,
    history: [{ at: T0 - 10_000, requested, source: 'scenario', pid: null }],
    ...extra,
  };
}

const WB1: RequestedPolicy = { mode: 'WriteBack', peers: 1, externalPeers: null };
const WB2X1: RequestedPolicy = { mode: 'WriteBack', peers: 2, externalPeers: 1 };
const WT: RequestedPolicy = { mode: 'WriteThrough', peers: 0, externalPeers: null };

const one = (raw: RawFvpVm): RawFvpVmMatches => ({ matches: [raw] });

function mismatch(fn: () => unknown, fact: string, vmName = 'sql-01'): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, VENDOR_MISMATCH);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, new RegExp(`'${fact}'`));
    assert.match(err.message, new RegExp(JSON.stringify(vmName)));
    return true;
  });
}

for (const name of PROFILE_NAMES) {
  const profile = PROFILES[name];
  const server = interpretFvpServer([rawServer(profile)]);
  const startTime = server.statsStartTime ?? null;

  describe(`on the vendor profile ${name}`, () => {
    test('the server: version rule for -StartTime, licence rule for external peers', () => {
      assert.equal(server.statsStartTime === 0, statsNeedStartTime(profile));
      assert.equal(server.faultDomains, profile.fvpLicence === 'Enterprise');
    });

    test('policies read as the lab holds them (write-back, write-through, destaging, not accelerated)', () => {
      const cases: VmState[] = [
        vm('sql-01', WB1),
        vm('app-01', WT, { writeIntervalMs: 0 }),
        vm('web-01', WB1, { accelerated: false }),
        vm('nofl-01', WB1, { hostHasFlash: false }),
        // Switched to write-through 100 ms ago: still destaging, effective write-back.
        vm('db-01', WT, {
          history: [
            { at: T0 - 10_000, requested: WB1, source: 'scenario', pid: null },
            { at: T0 - 100, requested: WT, source: 'Set-VmWriteThrough', pid: 1 },
          ],
        }),
      ];
      if (server.faultDomains) cases.push(vm('fd-01', WB2X1));
      for (const state of cases) {
        const got = interpretVmPolicy(state.name, one(rawVm(state, T0, profile)), server);
        const expected = policyDoc(state, T0);
        // Not accelerated: FVP has no policy for it; the product reads "write-through, not accelerated".
        if (!state.accelerated) expected.requested = WT;
        assert.deepEqual(got, expected, state.name);
        const flush = interpretFlushState(state.name, one(rawVm(state, T0, profile, startTime)), server);
        assert.deepEqual(flush, state.accelerated ? flushDoc(state, T0) : { ...flush }, state.name);
      }
    });

    test('the HotAdd VADP blacklist reads from cachePolicy (1 blacklisted, 3 not); anything else fails closed', () => {
      const proxy = { name: 'proxy-01', uuid: 'uuid-proxy-01', vadpSince: null as number | null };
      assert.equal(interpretProxyVadp('proxy-01', one(rawProxy(proxy, profile))), false);
      assert.equal(interpretProxyVadp('proxy-01', one(rawProxy({ ...proxy, vadpSince: T0 }, profile))), true);
      const odd = rawProxy(proxy, profile);
      odd.vm.cachePolicy = 2;
      mismatch(() => interpretProxyVadp('proxy-01', one(odd)), 'vadpBlacklist', 'proxy-01');
    });

    test('external peers: null without fault domains whatever the property reads', () => {
      const raw = rawVm(vm('sql-01', WB1), T0, profile);
      raw.vm.numWbExternalPeers = 0;
      const policy = interpretVmPolicy('sql-01', one(raw), server);
      assert.equal(policy?.requested.externalPeers, server.faultDomains ? 0 : null);
    });

    test('statistics without the -StartTime this build needs: no sample (retryable), never flushed', () => {
      const state = vm('sql-01', WT, { writeIntervalMs: 0 });
      const wrong = statsNeedStartTime(profile) ? null : 0;
      assert.throws(
        () => interpretFlushState('sql-01', one(rawVm(state, T0, profile, wrong)), server),
        (err: unknown) => err instanceof ApplicationFailure && err.type !== VENDOR_MISMATCH && !err.nonRetryable,
      );
    });

    test('fails closed on every raw shape the facts do not cover', () => {
      const base = () => rawVm(vm('sql-01', WB1), T0, profile, startTime);
      const read = (raw: RawFvpVm) => () => interpretVmPolicy('sql-01', one(raw), server);
      const flush = (raw: RawFvpVm) => () => interpretFlushState('sql-01', one(raw), server);
      const withPolicy = (value: unknown, which: 'requested' | 'effective' = 'requested') => {
        const raw = base();
        raw[which] = { ok: true, values: [value as never] };
        return raw;
      };
      mismatch(read(withPolicy('WRITE_AROUND')), 'policyTexts');
      // The empty requested text is never "already write-through".
      mismatch(read(withPolicy('')), 'requestedWithoutEffective');
      mismatch(read({ ...base(), requested: { ok: true, values: [] } }), 'requestedWithoutEffective');
      mismatch(read(withPolicy({ '@type': 'X.Policy', Something: 'WRITE_BACK' })), 'policyObjectProperties');
      mismatch(read(withPolicy({ '@type': 'X.Policy', Policy: 7 })), 'policyTexts');
      mismatch(read(withPolicy(7)), 'policyTexts');
      // Empty effective text: only a code of known meaning is read ("3" is not in the table).
      const emptyEffective = withPolicy('', 'effective');
      emptyEffective.vm.effectivePolicy = '3';
      mismatch(read(emptyEffective), 'effectivePolicyCodes');
      emptyEffective.vm.effectivePolicy = '7';
      assert.equal(interpretVmPolicy('sql-01', one(emptyEffective), server)?.effective, 'WriteBack');
      for (const [property, fact] of [
        ['flashCluster', 'vmFlashClusterProperty'],
        ['numWbPeers', 'vmPeersProperty'],
        ['uuid', 'vmUuidProperty'],
      ] as const) {
        const raw = base();
        delete raw.vm[property];
        mismatch(read(raw), fact);
      }
      const peers = base();
      peers.vm.numWbPeers = 'two';
      mismatch(read(peers), 'vmPeersProperty');
      const noDestage = base();
      noDestage.stats = { ok: true, values: [{ '@type': 'PernixData.Prnx.ObjectStats', other: 0 }] };
      mismatch(flush(noDestage), 'timeToDestageProperty');
      noDestage.stats = { ok: true, values: [{ '@type': 'PernixData.Prnx.ObjectStats', time_to_destage: null }] };
      mismatch(flush(noDestage), 'timeToDestageProperty');
      noDestage.stats = { ok: true, values: ['0'] };
      mismatch(flush(noDestage), 'timeToDestageProperty');
    });
  });
}

test('property names are matched as PowerShell does (case-insensitively)', () => {
  const server = interpretFvpServer([rawServer(PROFILES.common)]);
  const raw = rawVm(vm('sql-01', WB1), T0, PROFILES.common);
  const renamed = Object.fromEntries(Object.entries(raw.vm).map(([k, v]) => [k === '@type' ? k : k.toUpperCase(), v]));
  assert.deepEqual(interpretVmPolicy('sql-01', one({ ...raw, vm: renamed }), server)?.requested, WB1);
});

test('no match is "unknown VM", several are ambiguous, and a server without a build is a mismatch', () => {
  const server = interpretFvpServer([rawServer(PROFILES.common)]);
  assert.equal(interpretVmPolicy('sql-01', { matches: [] }, server), null);
  const raw = rawVm(vm('sql-01', WB1), T0, PROFILES.common);
  assert.throws(() => interpretVmPolicy('sql-01', { matches: [raw, raw] }, server), /2 FVP VMs/);
  assert.throws(() => interpretFvpServer([{ '@type': 'X', licensedFeatures: '' }]), /serverBuildProperty/);
  assert.throws(() => interpretFvpServer([]), /serverBuildProperty/);
});
