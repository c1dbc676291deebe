/**
 * For workflow tests whose FVP and Veeam are a small in-test fake (when a mechanism must be timed
 * more precisely than the lab can): an in-process worker on the given server with the fake's
 * activities, the guard's real Temporal-side activities, and notifications that go nowhere (a worker
 * without FVPB_NOTIFY_*). One place, so each test states only its fake.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import type { Activities } from '../../activities';
import { createVmGuardActivities } from '../../activities/vm-guard';
import { createSwitchAndFlush } from '../../activities/switch-and-flush';
import type { GuardSettings } from '../../domain/guard-protocol';
import type { BackupSession } from '../../domain/veeam';

/** The FVP server the fake's guards run for (guard ids `vm-guard/fvp01/<vm>`). */
export const FAKE_FVP_SERVER = 'fvp01';

/** A finished Success session of `Nightly-SQL` over `vms`. */
export function finishedSession(vms: string[]): BackupSession {
  return {
    id: 's-1',
    jobId: 'j-1',
    jobName: 'Nightly-SQL',
    state: 'Stopped',
    result: 'Success',
    progress: 100,
    creationTime: '2026-01-01T00:00:00.0000000Z',
    endTime: '2026-01-01T00:01:00.0000000Z',
    tasks: vms.map((vm) => ({ vm, status: 'Success', result: 'Success' as const, progress: 100 })),
  };
}

export async function workerWithFakes(
  env: TestWorkflowEnvironment,
  workflowBundle: WorkflowBundle,
  taskQueue: string,
  fakes: Partial<Activities>,
  guard: Partial<GuardSettings> = {},
): Promise<Worker> {
  const temporal = createVmGuardActivities({
    client: env.client,
    taskQueue,
    guard: {
      fvpServer: FAKE_FVP_SERVER,
      holderCheckIntervalMs: 60_000,
      resendIntervalMs: 5_000,
      historyLimit: 2000,
      ...guard,
    },
  });
  const notify: Activities['notify'] = async ({ event }) => ({
    kind: event.kind,
    key: event.key,
    outcome: 'no-channel',
    channels: [],
    note: 'no channel configured',
  });
  // The guard's switch-and-flush activity, as the worker composes it, from the fake's two halves.
  const { setWriteThrough, waitForFlush } = fakes;
  const composed = setWriteThrough && waitForFlush ? createSwitchAndFlush({ setWriteThrough, waitForFlush }) : {};
  return Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle,
    activities: { ...temporal, notify, ...composed, ...fakes },
  });
}
