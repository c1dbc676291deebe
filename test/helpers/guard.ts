/**
 * What the per-VM guard and reconciler tests share: lab scenarios where several Veeam jobs contain
 * the same VM, worker settings with short guard periods, and probes of the lab and of Temporal.
 */
import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import { defaultScenario, type ScenarioInput, type ScenarioJob } from '../../lab/scenario';
import type { VmTimeline, WriteThroughWindow } from '../../lab/api';
import { guardIdFor, guardIdForUuid, type GuardState, vmGuardStateQuery } from '../../domain/guard-protocol';
import { nameUuid } from '../../lab/lab';
import type { Lab } from './harness';
import { workerEnv } from './worker-process';

/** The FVP server every test worker is configured with (FVPB_FVP_SERVER). */
export const FVP_SERVER = workerEnv({ temporalAddress: '', taskQueue: '', labUrl: '' }).FVPB_FVP_SERVER as string;

/** Short guard periods, so that a closed holder is noticed within a second. */
export const guardWorkerEnv = {
  FVPB_GUARD_CHECK_INTERVAL: '1 second',
  FVPB_GUARD_RESEND_INTERVAL: '3 seconds',
} as const;

/**
 * The id of the guard runs since `guard-by-uuid` hold `vm` through: keyed on its FVP uuid, which
 * the lab derives from the name a scenario gives the VM (lab.ts nameUuid) unless the scenario sets one.
 */
export function guardId(vm: string): string {
  return guardIdForUuid(FVP_SERVER, labUuid(vm));
}

/** The uuid the lab gives a scenario VM of this (original) name that sets none. */
export function labUuid(vm: string): string {
  return nameUuid('vm', vm);
}

/** The name-keyed id of guards before `guard-by-uuid` (still used while one of them runs). */
export function legacyGuardId(vm: string): string {
  return guardIdFor(FVP_SERVER, vm);
}

/** The demo's three busy write-back VMs, with the given jobs instead of the demo's one. */
export function jobsScenario(jobs: Partial<ScenarioJob>[], options: { destageMs?: number } = {}): ScenarioInput {
  const base = defaultScenario({ destageMs: options.destageMs ?? 400 });
  return {
    ...base,
    veeam: {
      ...base.veeam,
      jobs: jobs.map((job, i) => ({
        name: `Job-${i + 1}`,
        vms: [],
        startDelayMs: 100,
        taskMs: 300,
        stopDelayMs: 100,
        outcome: 'Success',
        transportMode: 'DirectSan',
        proxies: [],
        ...job,
      })),
    },
  };
}

export { waitFor } from './wait';

export async function timelineOf(lab: Lab, vm: string): Promise<VmTimeline> {
  const found = (await lab.client.timeline()).find((t) => t.vm === vm);
  assert.ok(found, `a timeline for ${vm}`);
  return found;
}

/** Write-through windows of `vm` that began at or after `since` (epoch ms). */
export async function windowsSince(lab: Lab, vm: string, since: number): Promise<WriteThroughWindow[]> {
  return (await timelineOf(lab, vm)).writeThroughWindows.filter((w) => w.requestedAt >= since);
}

/** How often `op` ran on `vm` since the lab's scenario was loaded. */
export async function invocationsFor(lab: Lab, op: string, vm: string): Promise<number> {
  const { invocations } = await lab.client.invocations({ op });
  return invocations.filter((i) => (i.args as { vm?: string }).vm === vm).length;
}

export async function guardState(client: Client, vm: string): Promise<GuardState | undefined> {
  try {
    const handle = client.workflow.getHandle(guardId(vm));
    if ((await handle.describe()).status.name !== 'RUNNING') return undefined;
    return await handle.query(vmGuardStateQuery);
  } catch {
    return undefined;
  }
}

/** Every run of a guard id started at or after `since` (epoch ms), newest first (visibility). */
export async function guardRuns(client: Client, vm: string, since = 0): Promise<{ runId: string; status: string }[]> {
  const runs: { runId: string; status: string; start: number }[] = [];
  for await (const info of client.workflow.list({ query: `WorkflowId = '${guardId(vm)}'` })) {
    if (info.startTime.getTime() < since) continue;
    runs.push({ runId: info.runId, status: info.status.name, start: info.startTime.getTime() });
  }
  return runs.sort((a, b) => b.start - a.start).map(({ runId, status }) => ({ runId, status }));
}
