/**
 * The least a workflow-per-VM design can do on the flush path (bench/design-floor.ts): a "guard"
 * that is started with a hold signal, optionally runs one activity (the switch a writer guard must
 * run as a regular activity), and signals its grant to the run. No vendor calls, no patches, no
 * search attributes, no memo: every real guard does more than this.
 */
import {
  condition,
  defineSignal,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { FloorActivities } from './activities';

export const floorHoldSignal = defineSignal<[string]>('floorHold');
export const floorGrantedSignal = defineSignal<[string]>('floorGranted');

const { startFloorGuards, writeNothing } = proxyActivities<FloorActivities>({ startToCloseTimeout: '5 minutes' });

/** The run: asks `count` guards in one activity (as signalVmGuards does), then waits for every grant. */
export async function floorRun(count: number, withActivity: boolean): Promise<void> {
  const granted = new Set<string>();
  setHandler(floorGrantedSignal, (guard) => void granted.add(guard));
  await startFloorGuards({ runId: workflowInfo().workflowId, count, withActivity });
  await condition(() => granted.size === count);
}

/** One VM's guard, reduced to its start, at most one activity and its answer. */
export async function floorGuard(withActivity: boolean): Promise<void> {
  let holder: string | undefined;
  setHandler(floorHoldSignal, (run) => void (holder = run));
  await condition(() => holder !== undefined);
  if (withActivity) await writeNothing();
  await getExternalWorkflowHandle(holder as string).signal(floorGrantedSignal, workflowInfo().workflowId);
}
