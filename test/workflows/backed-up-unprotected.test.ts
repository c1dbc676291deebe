/**
 * The safety net after the session: Veeam's `Get-VBRJobObject` lists the objects *added* to a job
 * (a folder, a tag), not the VMs inside, so a run can resolve fewer VMs than the session backs up.
 * Every VM of the session's task list that the run did not protect fails the run as "backed up
 * unprotected", loudly (type, message, status warning, notification), never a silent success.
 * Real dev server and workflow code; an in-process worker whose FVP and Veeam are a small fake
 * playing a job whose folder holds a VM the job listing does not show.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import type { Activities } from '../../activities';
import type { NotificationEventInput } from '../../domain/notification';
import type { RequestedPolicy, VmPolicy } from '../../domain/policy';
import { preloadModules, workflowsPath } from '../../worker/bundle';
import { protectedBackup } from '../../workflows';
import type { RunStatus } from '../../workflows/status';
import { finishedSession, workerWithFakes } from '../helpers/fake-vendor';
import { startDevServer } from '../helpers/temporal';

function fakeJobWithAFolder() {
  const policies = new Map<string, RequestedPolicy>([['sql-01', { mode: 'WriteBack', peers: 1, externalPeers: null }]]);
  const notified: NotificationEventInput[] = [];
  const policy = (vm: string): VmPolicy => {
    const requested = policies.get(vm) as RequestedPolicy;
    return { vm, uuid: `u-${vm}`, accelerated: true, requested, effective: requested.mode };
  };
  // The session backs up sql-01 and, through the job's folder, hidden-01.
  const session = finishedSession(['sql-01', 'hidden-01']);
  const activities: Partial<Activities> = {
    describeJob: async () => ({ id: 'j-1', name: 'Nightly-SQL', vms: ['sql-01'], isRunning: false }),
    readCachePolicy: async ({ vm }) => (policies.has(vm) ? policy(vm) : null),
    prepareJobStart: async () => ({ previous: null }),
    setWriteThrough: async ({ vm }) => {
      policies.set(vm, { mode: 'WriteThrough', peers: 0, externalPeers: null });
      return policy(vm);
    },
    waitForFlush: async ({ vms }) =>
      vms.map((vm) => ({
        vm,
        requested: policy(vm).requested,
        effective: policy(vm).effective,
        timeToDestageSeconds: 0,
      })),
    startJobOnce: async () => ({ session, reattached: false }),
    watchSession: async () => session,
    restoreCachePolicy: async ({ vm, policy: wanted }) => {
      policies.set(vm, wanted);
      return policy(vm);
    },
    notify: async ({ event }) => {
      notified.push(event);
      return { kind: event.kind, key: event.key, outcome: 'no-channel', channels: [], note: 'none' };
    },
  };
  return { activities, notified };
}

describe('the safety net after the session', () => {
  let env: TestWorkflowEnvironment;
  let workflowBundle: WorkflowBundle;

  before(async () => {
    [env, workflowBundle] = await Promise.all([
      startDevServer(),
      bundleWorkflowCode({ workflowsPath, preloadModules }),
    ]);
  });
  after(async () => env?.teardown());

  test('a VM Veeam backed up that the run never protected fails the run as backed up unprotected', async () => {
    const fake = fakeJobWithAFolder();
    const taskQueue = 'unprotected';
    const worker = await workerWithFakes(env, workflowBundle, taskQueue, fake.activities);
    const failure = await worker.runUntil(
      (async () => {
        const handle = await env.client.workflow.start(protectedBackup, {
          taskQueue,
          workflowId: 'backed-up-unprotected',
          args: [{ job: 'Nightly-SQL', flush: { pollInterval: '100ms' } }],
        });
        return handle.result().then(
          () => undefined,
          (err: unknown) => err,
        );
      })(),
    );
    assert.ok(failure instanceof WorkflowFailedError, 'the run must not report success');
    assert.ok(failure.cause instanceof ApplicationFailure);
    assert.equal(failure.cause.type, 'BackedUpUnprotected');
    assert.match(failure.cause.message, /backed up unprotected: "hidden-01"/);
    const report = failure.cause.details?.[0] as RunStatus;
    assert.ok(report.warnings.some((w) => w.includes('backed up unprotected: hidden-01')));
    assert.equal(report.vms.find((vm) => vm.vm === 'sql-01')?.step, 'restored', 'the protected VM is restored');
    assert.ok(
      fake.notified.some((e) => e.kind === 'backed-up-unprotected' && e.vm === 'hidden-01'),
      'someone is told',
    );
  });
});
