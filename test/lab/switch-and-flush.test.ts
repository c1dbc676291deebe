/**
 * The guard's first protect round as one activity (issue 12, activities/switch-and-flush.ts): the
 * conditional switch, then the flush read, with the worker's own FVP activities over the lab, on
 * every vendor profile. Retrying it after the switch took effect writes nothing; a switch FVP
 * refuses (someone changed the policy) reads nothing more and writes nothing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createFvpActivities } from '../../activities/fvp';
import { createSwitchAndFlush } from '../../activities/switch-and-flush';
import type { RequestedPolicy } from '../../domain/policy';
import { PROFILES, PROFILE_NAMES } from '../../lab/model/profile';
import { fakeLab, fvpInvoker } from '../../lab/testing';

const WB1: RequestedPolicy = { mode: 'WriteBack', peers: 1, externalPeers: null };
const WB2: RequestedPolicy = { mode: 'WriteBack', peers: 2, externalPeers: null };
const WT: RequestedPolicy = { mode: 'WriteThrough', peers: 0, externalPeers: null };
/** One flush read, no polling: the answer is what FVP says right after the switch. */
const ONE_READ = { pollIntervalMs: 100, returnAfterMs: 0 };

for (const profile of PROFILE_NAMES) {
  describe(`switch and wait for the flush on ${profile}`, () => {
    async function setup() {
      const f = await fakeLab({
        vendor: PROFILES[profile],
        fvp: { vms: [{ name: 'sql-01', requested: WB1, writeIntervalMs: 10, destageMs: 300 }] },
      });
      const fvp = createFvpActivities({ fvp: fvpInvoker(f) });
      const { switchAndWaitForFlush } = createSwitchAndFlush(fvp);
      const mock = new MockActivityEnvironment();
      const run = <R>(fn: () => Promise<R>): Promise<R> => mock.run(fn) as Promise<R>;
      const uuid = f.lab.view().fvp.vms.find((v) => v.name === 'sql-01')!.uuid;
      const writes = () => f.lab.invocations({ op: 'Set-VmWriteThrough' }).invocations.length;
      return { f, fvp, run, uuid, writes, switchAndWaitForFlush };
    }

    test('switches when the VM has the expected policy, then reads its flush state by uuid', async () => {
      const { f, run, uuid, writes, switchAndWaitForFlush } = await setup();
      f.clock.advance(1000); // dirty data to destage
      const answer = await run(() => switchAndWaitForFlush({ vm: 'sql-01', uuid, expected: WB1, ...ONE_READ }));
      assert.deepEqual(answer.switched.requested, WT);
      assert.equal(answer.flush.vm, 'sql-01');
      assert.deepEqual(answer.flush.requested, WT);
      assert.equal(writes(), 1);
      f.clock.advance(400); // destaged
      const again = await run(() => switchAndWaitForFlush({ vm: 'sql-01', uuid, expected: WB1, ...ONE_READ }));
      assert.deepEqual(again.flush.requested, WT);
      assert.equal(again.flush.timeToDestageSeconds, 0, 'flushed');
      assert.equal(writes(), 1, 'the retry found write-through in place and wrote nothing');
    });

    test('a switch refused because someone changed the policy writes nothing and reads no flush', async () => {
      const refusedBy = async (call: (x: Awaited<ReturnType<typeof setup>>) => Promise<unknown>) => {
        const x = await setup();
        try {
          await x.run(() => call(x));
          assert.fail('expected PolicyChanged');
        } catch (err) {
          assert.ok(err instanceof ApplicationFailure, String(err));
          assert.equal(err.type, 'PolicyChanged');
        }
        assert.equal(x.writes(), 0);
        assert.deepEqual(x.f.lab.view().fvp.vms.find((v) => v.name === 'sql-01')!.requested, WB1);
        return x.f.lab.invocations().invocations.map((i) => i.op);
      };
      const composite = await refusedBy((x) =>
        x.switchAndWaitForFlush({ vm: 'sql-01', uuid: x.uuid, expected: WB2, ...ONE_READ }),
      );
      const switchAlone = await refusedBy((x) => x.fvp.setWriteThrough({ vm: 'sql-01', uuid: x.uuid, expected: WB2 }));
      assert.deepEqual(composite, switchAlone, 'the calls of the refused switch, and nothing after them');
    });
  });
}
