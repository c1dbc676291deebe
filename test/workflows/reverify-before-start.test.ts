/**
 * Between the guard's grant and the job's start, a VM leaves write-through (an admin puts it back
 * to write-back the moment its flush was verified). The run reads every VM once more right before
 * the start, starts nothing, and fails as PolicyDrift; the guard then finds the admin's policy in
 * place and keeps it. Real dev server and workflow code; an in-process worker whose FVP and Veeam
 * activities are a small fake that plays the admin at exactly that moment (the lab cannot time an
 * admin's change between two workflow tasks), with the guard's real Temporal-side activities.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import type { Activities } from '../../activities';
import { samePolicy, type FlushState, type RequestedPolicy, type VmPolicy } from '../../domain/policy';
import { preloadModules, workflowsPath } from '../../worker/bundle';
import { protectedBackup } from '../../workflows';
import { workerWithFakes } from '../helpers/fake-vendor';
import { startDevServer } from '../helpers/temporal';
import { guardIdForUuid } from '../../domain/guard-protocol';

const recorded: RequestedPolicy = { mode: 'WriteBack', peers: 1, externalPeers: null };
const adminPolicy: RequestedPolicy = { mode: 'WriteBack', peers: 2, externalPeers: null };
const writeThrough: RequestedPolicy = { mode: 'WriteThrough', peers: 0, externalPeers: null };

function fakeFvpAndVeeam() {
  let requested: RequestedPolicy = recorded;
  let flushedAnswers = 0;
  const calls = { startJobOnce: 0 };
  const policy = (): VmPolicy => ({
    vm: 'sql-01',
    uuid: 'u-1',
    accelerated: true,
    requested,
    effective: requested.mode,
  });
  const flushState = (): FlushState => ({
    vm: 'sql-01',
    requested,
    effective: requested.mode,
    timeToDestageSeconds: 0,
  });
  const refuseUnless = (expected: RequestedPolicy | undefined) => {
    if (expected && !samePolicy(expected, requested)) {
      throw ApplicationFailure.nonRetryable(`requested is ${requested.mode}/${requested.peers}`, 'PolicyChanged');
    }
  };
  const activities: Partial<Activities> = {
    describeJob: async () => ({ id: 'j-1', name: 'Nightly-SQL', vms: ['sql-01'], isRunning: false }),
    readCachePolicy: async () => policy(),
    prepareJobStart: async () => ({ previous: null }),
    setWriteThrough: async ({ expected }) => {
      refuseUnless(expected);
      requested = writeThrough;
      return policy();
    },
    waitForFlush: async () => {
      const state = flushState();
      // The admin acts right after the first verified flush: before the job is started.
      if (state.requested.mode === 'WriteThrough' && ++flushedAnswers === 1) requested = adminPolicy;
      return [state];
    },
    startJobOnce: async () => {
      calls.startJobOnce++;
      throw ApplicationFailure.nonRetryable('the job must not be started', 'TestFailure');
    },
    stopJob: async () => null, // nothing to stop: the fake job never starts
    restoreCachePolicy: async ({ policy: wanted, expected }) => {
      if (!samePolicy(requested, wanted)) refuseUnless(expected);
      requested = wanted;
      return policy();
    },
  };
  return { activities, calls, requested: () => requested };
}

describe('re-verification right before the job starts', () => {
  let env: TestWorkflowEnvironment;
  let workflowBundle: WorkflowBundle;

  before(async () => {
    [env, workflowBundle] = await Promise.all([
      startDevServer(),
      bundleWorkflowCode({ workflowsPath, preloadModules }),
    ]);
  });
  after(async () => env?.teardown());

  test('a VM put back to write-back after its grant: no job started, PolicyDrift, the admin policy kept', async () => {
    const fake = fakeFvpAndVeeam();
    const taskQueue = 'reverify';
    const worker = await workerWithFakes(env, workflowBundle, taskQueue, fake.activities);
    const failure = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(protectedBackup, {
        taskQueue,
        workflowId: 'reverify-before-start',
        args: [{ job: 'Nightly-SQL', flush: { pollInterval: '100ms' }, timeouts: { retryInitialInterval: '100ms' } }],
      });
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      // The guard answers the release once it has looked at the VM again.
      await env.client.workflow.getHandle(guardIdForUuid('fvp01', 'u-1')).result();
      return err;
    });
    assert.ok(failure instanceof WorkflowFailedError, 'the run failed');
    assert.ok(failure.cause instanceof ApplicationFailure);
    assert.equal(failure.cause.type, 'PolicyDrift');
    assert.match(failure.cause.message, /flush lost before the backup started: "sql-01".*no backup was started/);
    assert.equal(fake.calls.startJobOnce, 0, 'the job was never started');
    assert.deepEqual(fake.requested(), adminPolicy, "the admin's policy is kept, not overwritten by the record");
  });
});
