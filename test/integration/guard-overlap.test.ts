/**
 * Overlapping runs that share a VM, through the per-VM guard: the real dev server, real worker
 * processes, the lab. A VM in two jobs stays write-through until the later backup ends; twenty
 * runs on one VM switch it once and restore it once; the guard's state is visible while it holds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fastRequest, fastTimeouts, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertPoliciesAre, requestedPolicies, sessionsOf } from '../helpers/lab-assertions';
import {
  guardId,
  guardRuns,
  guardState,
  guardWorkerEnv,
  invocationsFor,
  jobsScenario,
  waitFor,
  windowsSince,
} from '../helpers/guard';
import { readGuardStatus } from '../../client/guard/status';
import { printGuardStatus } from '../../client/cli/guard';
import type { RunReport } from '../../workflows/status';

const SHARED = 'sql-01';

async function assertAllConsistent(h: Harness, jobs: string[]): Promise<void> {
  for (const job of jobs) {
    const sessions = await sessionsOf(h.lab, job);
    assert.equal(sessions.length, 1, `one session of ${job}`);
    const verdicts = await h.lab.client.verdicts({ sessionId: sessions[0]?.id });
    assert.ok(verdicts.length > 0, `verdicts for ${job}`);
    for (const v of verdicts) assert.equal(v.consistent, true, `${job}/${v.vm}: ${v.reason}`);
  }
}

describe('per-VM guard: overlapping runs share a VM', () => {
  let h: Harness;
  const taskQueue = uniqueId('guard');

  before(async () => {
    h = await startHarness();
    // A low history limit, so that the twenty-run test continues the guard as new mid-way.
    await h.startWorker(taskQueue, {
      ...guardWorkerEnv,
      FVPB_GUARD_HISTORY_LIMIT: '100',
      FVPB_MAX_CONCURRENT_ACTIVITIES: '80',
    });
  });
  after(async () => h?.stop());

  test('a VM in two jobs stays write-through until the later backup ends; both consistent; policy as recorded', async () => {
    // The shared VM is the short job's only VM and the long job's last: its snapshot in the long
    // job comes well after the short job ended.
    await h.lab.client.loadScenario(
      jobsScenario([
        { name: 'Short', vms: [SHARED], taskMs: 300 },
        { name: 'Long', vms: ['web-01', 'app-01', SHARED], taskMs: 900 },
      ]),
    );
    const policies = await requestedPolicies(h.lab);
    const since = Date.now();
    const [short, long] = await Promise.all([
      h.start(taskQueue, fastRequest('Short')),
      h.start(taskQueue, fastRequest('Long')),
    ]);
    const [shortReport, longReport]: [RunReport, RunReport] = await Promise.all([short.result(), long.result()]);
    assert.equal(shortReport.phase, 'completed');
    assert.equal(longReport.phase, 'completed');

    const [shortSession] = await sessionsOf(h.lab, 'Short');
    const [longSession] = await sessionsOf(h.lab, 'Long');
    assert.ok(shortSession && longSession);
    assert.ok(shortSession.endsAt + 1000 < longSession.endsAt, 'the runs end at different times');

    const windows = await windowsSince(h.lab, SHARED, since);
    assert.equal(windows.length, 1, `one write-through window for ${SHARED}: ${JSON.stringify(windows)}`);
    const [window] = windows;
    assert.ok(window?.endedAt, `${SHARED} back to write-back`);
    assert.ok(window.endedAt >= longSession.endsAt, `${SHARED} restored only after the later backup ended`);
    assert.ok(window.effectiveAt !== null && window.effectiveAt <= shortSession.createdAt, 'flushed before any job');

    await assertAllConsistent(h, ['Short', 'Long']);
    await assertPoliciesAre(h.lab, policies);

    const sharedIn = (r: RunReport) => r.vms.find((v) => v.vm === SHARED);
    assert.equal(sharedIn(shortReport)?.step, 'released', 'the first run let go while the other still held it');
    assert.equal(sharedIn(shortReport)?.sharedWith, 1);
    assert.equal(sharedIn(longReport)?.step, 'restored', 'the last run restored it');
    assert.deepEqual(sharedIn(longReport)?.recorded, policies.get(SHARED), 'the guard recorded the original policy');
    assert.equal(sharedIn(longReport)?.guardId, guardId(SHARED));
  });

  test("the guard's state is visible through its query and the status command while runs hold the VM", async () => {
    await h.lab.client.loadScenario(
      jobsScenario([
        { name: 'A', vms: [SHARED], taskMs: 4000 },
        { name: 'B', vms: [SHARED], taskMs: 4000 },
      ]),
    );
    const policies = await requestedPolicies(h.lab);
    const runs = await Promise.all([h.start(taskQueue, fastRequest('A')), h.start(taskQueue, fastRequest('B'))]);
    const state = await waitFor('both runs to hold the VM', async () => {
      const s = await guardState(h.env.client, SHARED);
      return s && s.holders.filter((x) => x.granted).length === 2 ? s : undefined;
    });
    assert.equal(state.phase, 'protected');
    assert.equal(state.writeThrough, true);
    assert.deepEqual(state.recorded, policies.get(SHARED));
    assert.deepEqual(new Set(state.holders.map((x) => x.workflowId)), new Set(runs.map((r) => r.workflowId)));

    const status = await readGuardStatus(h.env.client, { vm: SHARED });
    assert.equal(status.running.length, 1);
    assert.equal(status.running[0]?.guardId, guardId(SHARED));
    let text = '';
    printGuardStatus(status, { json: false, write: (t) => (text += t) });
    assert.match(text, new RegExp(`${SHARED}.*protected`));
    for (const run of runs) assert.ok(text.includes(run.workflowId), `the text names holder ${run.workflowId}`);
    let json = '';
    printGuardStatus(status, { json: true, write: (t) => (json += t) });
    assert.equal(JSON.parse(json).running[0].state.holders.length, 2);

    await Promise.all(runs.map((r) => r.result()));
    await assertPoliciesAre(h.lab, policies);
    await waitFor('the guard to complete', async () => (await guardState(h.env.client, SHARED)) === undefined);
  });

  test('20 concurrent runs on one VM: one write-through switch, one restore, all consistent (through continue-as-new)', async () => {
    const jobs = Array.from({ length: 20 }, (_, i) => `J-${String(i + 1).padStart(2, '0')}`);
    await h.lab.client.loadScenario(jobsScenario(jobs.map((name) => ({ name, vms: [SHARED], taskMs: 6000 }))));
    const policies = await requestedPolicies(h.lab);
    const since = Date.now();
    const handles = await Promise.all(jobs.map((job) => h.start(taskQueue, fastRequest(job))));
    const reports = await Promise.all(handles.map((x) => x.result()));

    assert.deepEqual(new Set(reports.map((r) => r.phase)), new Set(['completed']));
    assert.equal(await invocationsFor(h.lab, 'Set-VmWriteThrough', SHARED), 1, 'one write-through switch');
    assert.equal(await invocationsFor(h.lab, 'Restore-VmCachePolicy', SHARED), 1, 'one restore');
    assert.equal((await windowsSince(h.lab, SHARED, since)).length, 1, 'one write-through window');
    await assertAllConsistent(h, jobs);
    await assertPoliciesAre(h.lab, policies);
    const steps = reports.map((r) => r.vms.find((v) => v.vm === SHARED)?.step);
    assert.equal(steps.filter((s) => s === 'restored').length, 1, 'the last run restored');
    assert.equal(steps.filter((s) => s === 'released').length, 19, 'the others let go');

    // The guard's history stayed bounded: it continued as new, and lost no request doing so.
    const runs = await waitFor('the guard runs to be visible', async () => {
      const found = await guardRuns(h.env.client, SHARED, since);
      return found.some((r) => r.status === 'CONTINUED_AS_NEW') && found[0]?.status === 'COMPLETED' ? found : undefined;
    });
    assert.ok(runs.filter((r) => r.status === 'CONTINUED_AS_NEW').length >= 1, JSON.stringify(runs));
  });

  test("a run allowing a single retry does not shorten its guard's steps: guards use the worker's timeouts", async () => {
    await h.lab.client.loadScenario(jobsScenario([{ name: 'Brittle', vms: [SHARED], taskMs: 300 }]));
    const policies = await requestedPolicies(h.lab);
    // Loading a scenario disconnects the worker's PowerShell sessions: one ordinary run first, so
    // that the single-attempt run below is not failed by its own first reconnect.
    assert.equal((await (await h.start(taskQueue, fastRequest('Brittle'))).result()).phase, 'completed');
    // Two transient failures of the switch to write-through, which only the guard makes (writes are
    // never read again inside an activity, unlike reads: each failure costs a whole attempt): with
    // the run's single attempt the guard's step would fail and refuse the run; with the worker's ten
    // it goes on.
    await h.lab.client.setFaults([
      { endpoint: 'fvp', op: 'Set-VmWriteThrough', action: 'fail', category: 'transient', times: 2 },
    ]);
    const run = await h.start(
      taskQueue,
      fastRequest('Brittle', { timeouts: { ...fastTimeouts, retryMaximumAttempts: 1 } }),
    );
    const report: RunReport = await run.result().catch((err: unknown) => {
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
      return assert.fail(`the run failed: ${cause}`);
    });
    assert.equal(report.phase, 'completed');
    assert.equal((await h.lab.client.faults()).rules[0]?.applied, 2, 'both faults hit the guard');
    const sessions = await sessionsOf(h.lab, 'Brittle');
    assert.equal(sessions.length, 2, 'the warm-up run and this one');
    for (const session of sessions) {
      for (const v of await h.lab.client.verdicts({ sessionId: session.id })) {
        assert.equal(v.consistent, true, `${v.vm}: ${v.reason}`);
      }
    }
    await assertPoliciesAre(h.lab, policies);
  });
});
