/**
 * No starvation (issue 12 section 3, review-reliability.md finding 16): the guards of a dead
 * holder's VMs wait for its Veeam job by short reads between durable timers, so more such waits
 * than the worker has activity slots leave room for everyone else. Real dev server, a real worker
 * process with 3 activity slots, the lab: a 5-VM job's run is terminated mid-job (5 abandoned
 * waits), and a new run of another job still has its flush checked, its backup taken and its VM
 * restored while the abandoned job runs on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertConsistentSessions, assertPoliciesAre, requestedPolicies, sessionsOf } from '../helpers/lab-assertions';
import { guardState, guardWorkerEnv, waitFor, windowsSince } from '../helpers/guard';
import { scenario } from '../helpers/scenarios';
import type { ScenarioInput } from '../../lab/scenario';

const ACTIVITY_SLOTS = 3;
const ABANDONED_VMS = 5;
const LONG = 'Long-Abandoned';
const SHORT = 'Short-Next';

/** Six VMs: the first five in a long job (all tasks at once, 90 s each), the sixth in a short one. */
function starvationScenario(): ScenarioInput {
  const base = scenario({ vmCount: ABANDONED_VMS + 1, destageMs: () => 300 });
  const vms = (base.fvp?.vms ?? []).map((vm) => vm.name);
  const template = base.veeam?.jobs?.[0];
  assert.ok(template);
  return {
    ...base,
    veeam: {
      ...base.veeam,
      jobs: [
        { ...template, name: LONG, vms: vms.slice(0, ABANDONED_VMS), taskMs: 90_000, taskSlots: ABANDONED_VMS },
        { ...template, name: SHORT, vms: vms.slice(ABANDONED_VMS), taskMs: 300 },
      ],
    },
  };
}

describe('per-VM guard: abandoned-job waits do not starve other runs', () => {
  let h: Harness;
  const taskQueue = uniqueId('starve');

  before(async () => {
    h = await startHarness();
    await h.startWorker(taskQueue, { ...guardWorkerEnv, FVPB_MAX_CONCURRENT_ACTIVITIES: String(ACTIVITY_SLOTS) });
  });
  after(async () => h?.stop());

  test('more abandoned waits than activity slots: a new run is flushed, backed up and restored meanwhile', async () => {
    const input = starvationScenario();
    await h.lab.client.loadScenario(input);
    const policies = await requestedPolicies(h.lab);
    const vms = (input.fvp?.vms ?? []).map((vm) => vm.name);
    const abandoned = vms.slice(0, ABANDONED_VMS);
    const next = vms[ABANDONED_VMS] as string;
    const since = Date.now();

    const holder = await h.start(taskQueue, fastRequest(LONG));
    await waitFor('the long job to be running', async () =>
      (await sessionsOf(h.lab, LONG)).some((s) => s.state === 'Working'),
    );
    await holder.terminate('test: the holder dies mid-job');
    for (const vm of abandoned) {
      await waitFor(`the guard of ${vm} to wait for the abandoned job`, async () => {
        const state = await guardState(h.env.client, vm);
        return state?.phase === 'waiting-for-abandoned-jobs';
      });
    }

    const run = await h.start(taskQueue, fastRequest(SHORT));
    const [longSession] = await sessionsOf(h.lab, LONG);
    assert.ok(longSession);
    // Whichever comes first: the new run's end, or the abandoned job's (a starved run waits for it).
    let raced = false;
    const longEnded = waitFor(
      'the long job to end',
      async () => raced || Date.now() > longSession.endsAt,
      200_000,
      250,
    );
    const first = await Promise.race([run.result().then((report) => ({ report })), longEnded.then(() => 'long')]);
    raced = true;
    assert.notEqual(first, 'long', 'the new run finished before the abandoned job ended');
    const { report } = first as { report: Awaited<ReturnType<typeof run.result>> };
    assert.equal(report.phase, 'completed', report.error ?? '');
    assert.equal(report.vms.find((v) => v.vm === next)?.step, 'restored');
    await assertConsistentSessions(h.lab, SHORT, 1, [next]);
    assert.equal((await sessionsOf(h.lab, SHORT))[0]?.state, 'Stopped');

    // Meanwhile the abandoned job's VMs stay in write-through: it still reads them.
    assert.notEqual((await sessionsOf(h.lab, LONG))[0]?.state, 'Stopped', 'the abandoned job still runs');
    for (const vm of abandoned) {
      const windows = await windowsSince(h.lab, vm, since);
      assert.ok(windows.length === 1 && windows[0]?.endedAt === null, `${vm} still in write-through`);
    }
    await assertPoliciesAre(h.lab, new Map([[next, policies.get(next)!]]));
  });
});
