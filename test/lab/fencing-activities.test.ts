/**
 * The activities turn the module's refusals into non-retryable failures with their own type, so a
 * workflow can tell "someone else acted" from a failure, and never start a job twice. Run in
 * Temporal's mock activity context against the in-process lab (on the real clock: the activities
 * pause between polls).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createFvpActivities } from '../../activities/fvp';
import { createVeeamActivities } from '../../activities/veeam';
import type { OperationInvoker } from '../../activities/invoker';
import { PowerShellError } from '../../activities/powershell/errors';
import type { EndpointName } from '../../domain/endpoint';
import type { RequestedPolicy } from '../../domain/policy';
import { FakeClock, fakeLab, type FakeLab } from '../../lab/testing';
import type { ScenarioInput } from '../../lab/scenario';

const WB1: RequestedPolicy = { mode: 'WriteBack', peers: 1, externalPeers: null };
const WB2: RequestedPolicy = { mode: 'WriteBack', peers: 2, externalPeers: null };
const WT: RequestedPolicy = { mode: 'WriteThrough', peers: 0, externalPeers: null };

/** The lab on the wall clock: activities pause for real between their polls. */
class WallClock extends FakeClock {
  override now = (): number => Date.now();
  override sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
}

/** What PowerShellPool.invoke does with an envelope: the result, or a PowerShellError of its category. */
function invoker(f: FakeLab, endpoint: EndpointName): OperationInvoker {
  return {
    async invoke(op, args) {
      const envelope = await f.call(endpoint, op, args);
      if (envelope.ok) return envelope.result as never;
      throw new PowerShellError(envelope.error.message, {
        op,
        endpoint,
        category: envelope.error.category,
        errorType: envelope.error.type,
      });
    },
  };
}

function scenario(job: object = {}, veeam: object = {}): ScenarioInput {
  return {
    fvp: { vms: [{ name: 'sql-01', requested: WB1 }] },
    veeam: { ...veeam, jobs: [{ name: 'Nightly', vms: ['sql-01'], startDelayMs: 100, taskMs: 100, ...job }] },
  };
}

async function setup(
  input: ScenarioInput,
  options: { sessionAppearMs?: number; startToCloseTimeoutMs?: number; veeam?: (f: FakeLab) => OperationInvoker } = {},
) {
  const f = await fakeLab(input, new WallClock());
  const acts = {
    ...createFvpActivities({ fvp: invoker(f, 'fvp') }),
    ...createVeeamActivities({
      veeam: options.veeam?.(f) ?? invoker(f, 'veeam'),
      sessionAppearMs: options.sessionAppearMs,
    }),
  };
  const mock = new MockActivityEnvironment({ startToCloseTimeoutMs: options.startToCloseTimeoutMs ?? 60_000 });
  /** Runs one activity call in the mock activity context. */
  const env = { run: <R>(fn: () => Promise<R>): Promise<R> => mock.run(fn) as Promise<R> };
  return { f, acts, env };
}

async function refusal(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the activity to fail');
}

describe('fencing in the activities', () => {
  test('setWriteThrough: a policy changed by someone else is a non-retryable PolicyChanged', async () => {
    const { f, acts, env } = await setup(scenario());
    f.lab.setVmPolicy('sql-01', WB2);
    const failure = await refusal(env.run(() => acts.setWriteThrough({ vm: 'sql-01', expected: WB1 })));
    assert.equal(failure.type, 'PolicyChanged');
    assert.equal(failure.nonRetryable, true);
    assert.deepEqual(f.lab.view().fvp.vms[0]!.requested, WB2);
  });

  test('restoreCachePolicy: refuses PolicyChanged when the VM left write-through; succeeds when it is already back', async () => {
    const { f, acts, env } = await setup(scenario());
    await env.run(() => acts.setWriteThrough({ vm: 'sql-01', expected: WB1 }));
    f.lab.setVmPolicy('sql-01', WB2);
    const failure = await refusal(env.run(() => acts.restoreCachePolicy({ vm: 'sql-01', policy: WB1, expected: WT })));
    assert.equal(failure.type, 'PolicyChanged');
    assert.equal(failure.nonRetryable, true);
    f.lab.setVmPolicy('sql-01', WB1);
    const after = await env.run(() => acts.restoreCachePolicy({ vm: 'sql-01', policy: WB1, expected: WT }));
    assert.deepEqual(after.requested, WB1, 'the target in place: a retry after a lost answer succeeds');
  });

  /** Takes the fence and starts the job once, as the workflow does. */
  async function fencedStart(
    { acts, env }: Awaited<ReturnType<typeof setup>>,
    settleMs = 5_000,
  ): Promise<{ session: { id: string }; reattached: boolean }> {
    const fence = await env.run(() =>
      acts.prepareJobStart({ job: 'Nightly', whenAlreadyRunning: 'fail', pollIntervalMs: 50 }),
    );
    return env.run(() =>
      acts.startJobOnce({ job: 'Nightly', fence, fullBackup: false, retryBackup: false, pollIntervalMs: 50, settleMs }),
    );
  }

  /** The Find-BackupSession reads after the start (the module no longer looks for its session). */
  function readsAfterStart(f: FakeLab): number {
    const { invocations } = f.lab.invocations();
    const start = invocations.findIndex((i) => i.op === 'Start-BackupJob');
    return invocations.slice(start + 1).filter((i) => i.op === 'Find-BackupSession').length;
  }

  test("startJobOnce: a session Veeam lists only after a few polls is found as this start's, not re-attached", async () => {
    const s = await setup(scenario({ sessionAppearDelayMs: 1_200 }));
    const started = await fencedStart(s);
    assert.equal(started.reattached, false, 'found by the start itself');
    assert.deepEqual(
      s.f.lab.view().veeam.sessions.map((x) => x.id),
      [started.session.id],
    );
    assert.equal(s.f.lab.invocations({ op: 'Start-BackupJob' }).invocations.length, 1);
    const reads = readsAfterStart(s.f);
    assert.ok(reads >= 3 && reads <= 5, `looked every 500 ms until it showed (${reads} reads)`);
  });

  test('startJobOnce: no session within sessionAppearMs is start-unknown: it re-attaches once the session shows, never starts again', async () => {
    const s = await setup(scenario({ sessionAppearDelayMs: 1_500 }), { sessionAppearMs: 400 });
    const started = await fencedStart(s);
    assert.equal(started.reattached, true);
    assert.deepEqual(
      s.f.lab.view().veeam.sessions.map((x) => x.id),
      [started.session.id],
    );
    assert.equal(s.f.lab.invocations({ op: 'Start-BackupJob' }).invocations.length, 1);
  });

  test("startJobOnce: a session that never shows in time fails JobStartUnknown, non-retryable, naming SessionNotFound's wait", async () => {
    const s = await setup(scenario({ sessionAppearDelayMs: 30_000 }), {
      sessionAppearMs: 1_000,
      startToCloseTimeoutMs: 5_000,
    });
    const failure = await refusal(fencedStart(s));
    assert.equal(failure.type, 'JobStartUnknown');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /was started but its session did not appear within 1 s/);
    assert.equal(s.f.lab.invocations({ op: 'Start-BackupJob' }).invocations.length, 1);
  });

  for (const [category, reattached] of [
    ['transient', false],
    ['permanent', true],
  ] as const) {
    test(`startJobOnce: a ${category} failure reading the sessions after the start: ${reattached ? 'start-unknown, re-attached' : 'read again at the next poll'}, never a failure`, async () => {
      let started = false;
      const s = await setup(scenario(), {
        veeam: (f) => ({
          async invoke(op, args) {
            if (op === 'Find-BackupSession' && started) {
              started = false;
              throw new PowerShellError(`Find-BackupSession failed (${category}): injected`, {
                op,
                endpoint: 'veeam',
                category,
              });
            }
            const result = await invoker(f, 'veeam').invoke(op, args);
            started ||= op === 'Start-BackupJob';
            return result;
          },
        }),
      });
      const result = await fencedStart(s);
      assert.equal(result.reattached, reattached);
      assert.equal(s.f.lab.invocations({ op: 'Start-BackupJob' }).invocations.length, 1);
    });
  }

  test('startJobOnce: a fence whose session vanished refuses FenceMoved, non-retryable, and starts nothing', async () => {
    const { f, acts, env } = await setup(scenario());
    await f.ok('veeam', 'Start-BackupJob', { job: 'Nightly', fullBackup: false, retryBackup: false });
    await new Promise((resolve) => setTimeout(resolve, 400));
    // A fence on a session Veeam no longer lists (retention removed it), newer than what it lists.
    const fence = { previous: { id: 'gone', creationTime: new Date(Date.now() + 60_000).toISOString() } };
    const failure = await refusal(
      env.run(() =>
        acts.startJobOnce({
          job: 'Nightly',
          fence,
          fullBackup: false,
          retryBackup: false,
          pollIntervalMs: 50,
          settleMs: 200,
        }),
      ),
    );
    assert.equal(failure.type, 'FenceMoved');
    assert.equal(failure.nonRetryable, true);
    assert.equal(f.lab.view().veeam.sessions.length, 1, 'nothing was started');
  });

  test('stopJob with a fence stops a session lookups do not show yet, and returns once the job is idle', async () => {
    const { f, acts, env } = await setup(scenario({ sessionAppearDelayMs: 300, startDelayMs: 5_000 }));
    const fence = await env.run(() =>
      acts.prepareJobStart({
        job: 'Nightly',
        whenAlreadyRunning: 'fail',
        pollIntervalMs: 50,
      }),
    );
    await f.call('veeam', 'Start-BackupJob', { job: 'Nightly', fullBackup: false, retryBackup: false, fence: null });
    const stopped = await env.run(() => acts.stopJob({ job: 'Nightly', fence, pollIntervalMs: 50, settleMs: 1_000 }));
    const [session] = f.lab.view().veeam.sessions;
    assert.ok(session && session.stopRequestedAt !== null && session.state === 'Stopped');
    assert.equal(stopped?.id, session.id, 'the session it stopped, once it showed');
    assert.equal(f.lab.verdicts().length, 0, 'stopped before any snapshot');
  });
});
