/**
 * Restores never give up, and never wait longer than `restoreMaxInterval` between attempts, even
 * when FVP refuses them for hours. Hours must pass, so this runs on the real time-skipping test
 * server, with an in-process worker whose activities stand in for FVP and Veeam. The run holds its
 * VM through the per-VM guard, as in production: the guard's restore loop (restore-policy.ts) is
 * the one under test, and the guard continues as new while it keeps failing. The run itself does
 * not wait for hours: after 5 minutes of failed attempts it hands the restore over to the guard and
 * closes as RestoreHandedOver (workflows/guard/holder.ts), so the job's next backups are not
 * skipped; the guard keeps trying alone, visibly, and restores exactly once FVP accepts it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import type { Activities } from '../../activities';
import { guardIdForUuid, vmGuardStateQuery } from '../../domain/guard-protocol';
import type { RequestedPolicy, VmPolicy } from '../../domain/policy';
import { preloadModules, workflowsPath } from '../../worker/bundle';
import { protectedBackup } from '../../workflows';
import type { RunReport } from '../../workflows/status';
import { finishedSession, workerWithFakes } from '../helpers/fake-vendor';
import { startTimeSkippingServer } from '../helpers/temporal';

const HOURS_OF_FAILURE = 3;
const recorded: RequestedPolicy = { mode: 'WriteBack', peers: 2, externalPeers: null };

function fakeFvpAndVeeam(failRestoresUntil: () => number, now: () => Promise<number>) {
  let requested: RequestedPolicy = recorded;
  const restoreAttemptTimes: number[] = [];
  const policy = (): VmPolicy => ({
    vm: 'sql-01',
    uuid: 'u-1',
    accelerated: true,
    requested,
    effective: requested.mode,
  });
  const session = finishedSession(['sql-01']);
  const activities: Partial<Activities> = {
    // Visibility queries are answered "none": a fresh VM.
    findGuardPredecessor: async () => null,
    describeJob: async () => ({ id: 'j-1', name: 'Nightly-SQL', vms: ['sql-01'], isRunning: false }),
    readCachePolicy: async () => policy(),
    prepareJobStart: async () => ({ previous: null }),
    setWriteThrough: async () => {
      requested = { mode: 'WriteThrough', peers: 0, externalPeers: null };
      return policy();
    },
    waitForFlush: async () => [{ vm: 'sql-01', requested, effective: 'WriteThrough', timeToDestageSeconds: 0 }],
    startJobOnce: async () => ({ session, reattached: false }),
    watchSession: async () => session,
    restoreCachePolicy: async ({ policy: wanted }) => {
      const at = await now();
      restoreAttemptTimes.push(at);
      if (at < failRestoresUntil()) {
        throw ApplicationFailure.retryable('Could not connect to FVP Management Server', 'ManagementServerDown');
      }
      requested = wanted;
      return policy();
    },
  };
  return { activities, restoreAttemptTimes, requested: () => requested };
}

describe('restore under a long FVP outage (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  let workflowBundle: WorkflowBundle;

  before(async () => {
    [env, workflowBundle] = await Promise.all([
      startTimeSkippingServer(),
      bundleWorkflowCode({ workflowsPath, preloadModules }),
    ]);
  });
  after(async () => env?.teardown());

  test(`keeps retrying for ${HOURS_OF_FAILURE} hours, at most one interval apart, then restores exactly`, async () => {
    const start = await env.currentTimeMs();
    const failUntil = start + HOURS_OF_FAILURE * 3600_000;
    const fake = fakeFvpAndVeeam(
      () => failUntil,
      () => env.currentTimeMs(),
    );
    const worker = await workerWithFakes(env, workflowBundle, 'restore-outage', fake.activities, {
      resendIntervalMs: 30_000,
      historyLimit: 500,
    });
    const report = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(protectedBackup, {
        taskQueue: 'restore-outage',
        workflowId: 'restore-outage',
        args: [
          {
            job: 'Nightly-SQL',
            timeouts: { restoreMaxInterval: '1 minute', retryInitialInterval: '1 second', heartbeat: '1 minute' },
          },
        ],
      });
      // The run does not wait out the outage: it hands the restore over and closes.
      const failure = await handle.result().then(
        () => assert.fail('the run should close as RestoreHandedOver while FVP refuses restores'),
        (err: unknown) => err,
      );
      assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof ApplicationFailure);
      assert.equal(failure.cause.type, 'RestoreHandedOver');
      const run = failure.cause.details?.[0] as RunReport;
      assert.equal(run.vms[0]?.step, 'restore-handed-over');
      // Handed over after the default restoreHandOverAfter (5 minutes) of failing, at the first
      // failure the guard reports after it: at most a restoreMaxInterval (1 minute) later.
      const closedAt = (await handle.describe()).closeTime?.getTime() ?? NaN;
      const failingFor = closedAt - (fake.restoreAttemptTimes[0] as number);
      assert.ok(failingFor >= 5 * 60_000 && failingFor <= 5 * 60_000 + 90_000, `handed over after ${failingFor} ms`);
      // Halfway through the outage the guard is still at it, alone, and says why.
      await env.sleep(`${HOURS_OF_FAILURE / 2} hours`);
      const guardHandle = env.client.workflow.getHandle(guardIdForUuid('fvp01', 'u-1'));
      const midway = await guardHandle.query(vmGuardStateQuery);
      assert.equal(midway.phase, 'restore-failing');
      assert.match(String(midway.lastError), /Management Server/);
      return { guard: await guardHandle.result() };
    });

    assert.ok(report.guard.counts.continuedAsNew >= 1, 'the guard continued as new while the restore kept failing');
    assert.deepEqual(fake.requested(), recorded, 'exactly the recorded policy is back');
    const times = fake.restoreAttemptTimes;
    assert.ok(times.length > HOURS_OF_FAILURE * 60, `attempted ${times.length} times`);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    // One minute of pause at most, plus the time-skipping server's own rounding.
    assert.ok(Math.max(...gaps) <= 65_000, `longest pause ${Math.max(...gaps)} ms`);
    assert.ok((times.at(-1) as number) >= failUntil, 'succeeded only once FVP accepted it');
  });
});
