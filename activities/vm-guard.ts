/**
 * Temporal-side activities of the per-VM guard: they talk to the Temporal server (not to FVP or
 * Veeam) through a Client the worker builds over its own connection.
 *
 * - `vmGuardSettings`: the worker's FVP server (part of every guard id) and guard timings; workflow
 *   code cannot read the worker's configuration, so it asks this tiny (local) activity.
 * - `signalVmGuards`: signal-with-start of guards. Workflow code can signal a running workflow, but
 *   not start one and signal it atomically; a run's first acquire must create the guard if needed,
 *   and a request sent to a guard that was terminated must start its successor. Hence an activity.
 * - `describeHolders`: is each holder still running? A run that was terminated, timed out or reset
 *   away never releases; the guard drops it. A holder is identified by workflow id and first run
 *   id, which Reset and workflow retries keep: a reset run still holds what its original held.
 * - `findGuardPredecessor`: the record of the newest closed run of a guard id that ever recorded
 *   one, unless that run completed (cleaned up). A fresh guard adopts it when it says write-through
 *   was left in place, so a VM left in write-through by a terminated guard gets its recorded policy
 *   back, not "write-through". A fresh uuid-keyed guard also looks at its VM's name-keyed id
 *   (`alsoGuardIds`), as if its runs were of its own id: an upgrade must not forget a record an old
 *   guard left. Visibility lags: a uuid-keyed guard closed a second ago may not be listed yet, and
 *   the name-keyed record it took charge of would look newest; adopted again, it finds the VM back
 *   in write-back already and owes nothing (record.ts adoptRecord).
 * - `routeGuards` (guard-routing.ts): which id each VM's guard has, for runs since `guard-by-uuid`.
 *
 * Test-only: FVPB_TEST_VISIBILITY_LAG_MS (default 0) makes `findGuardPredecessor` see what a lagging
 * visibility store shows: a guard run that closed less than that long ago still looks Running, so
 * the `ExecutionStatus != 'Running'` look-up does not list it. The integration tests use it to
 * reproduce a successor started right after its predecessor's Terminate (test/integration/
 * successor-adoption.test.ts); the dev server's own lag is too short to hit on demand.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import {
  GuardDelivery,
  GuardMemo,
  VM_GUARD_WORKFLOW_TYPE,
  vmGuardRequestSignal,
  type GuardSettings,
  type VmGuardInput,
} from '../domain/guard-protocol';
import { createGuardRoutingActivities } from './guard-routing';

export interface TemporalDependencies {
  client: Client;
  /** The task queue the guards run on (the worker's own). */
  taskQueue: string;
  guard: GuardSettings;
}

/** Statuses after which a guard did not clean up (Completed and ContinuedAsNew did). */
const UNCLEAN_QUERY = "ExecutionStatus IN ('Terminated', 'TimedOut', 'Failed', 'Canceled')";

export interface ClosedGuard {
  guardId: string;
  runId: string;
  status: string;
  closedAt: string | null;
  memo: GuardMemo;
}

/** A value inside a visibility query's single quotes. */
export function escapeQuery(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

export function closedGuardOf(info: WorkflowExecutionInfo): ClosedGuard | null {
  const memo = GuardMemo.safeParse(info.memo ?? {});
  if (!memo.success) return null;
  return {
    guardId: info.workflowId,
    runId: info.runId,
    status: info.status.name,
    closedAt: info.closeTime?.toISOString() ?? null,
    memo: memo.data,
  };
}

/** Guard runs that closed without cleaning up, newest first (visibility: may lag by about a second). */
export async function listUncleanGuards(client: Client, extra = ''): Promise<ClosedGuard[]> {
  const query = `WorkflowType = '${VM_GUARD_WORKFLOW_TYPE}' AND ${UNCLEAN_QUERY}${extra ? ` AND ${extra}` : ''}`;
  const found: ClosedGuard[] = [];
  for await (const info of client.workflow.list({ query, pageSize: 200 })) {
    const closed = closedGuardOf(info);
    if (closed) found.push(closed);
  }
  return found.sort((a, b) => (b.closedAt ?? '').localeCompare(a.closedAt ?? ''));
}

export const VISIBILITY_LAG_ENV = 'FVPB_TEST_VISIBILITY_LAG_MS';

/** The test-only visibility lag (see the header), parsed like the worker's configuration: a bad value stops the worker. */
export function visibilityLagMs(env: Record<string, string | undefined> = process.env): number {
  const parsed = z.coerce.number().int().min(0).max(600_000).default(0).safeParse(env[VISIBILITY_LAG_ENV]);
  if (!parsed.success) throw new Error(`invalid ${VISIBILITY_LAG_ENV}: expected 0 to 600000 (ms)`);
  return parsed.data;
}

export function createVmGuardActivities({ client, taskQueue, guard }: TemporalDependencies) {
  const lagMs = visibilityLagMs();
  return {
    // Registered with the guard's own activities: every worker that runs guards routes them.
    ...createGuardRoutingActivities({ client }),
    async vmGuardSettings(): Promise<GuardSettings> {
      return guard;
    },

    async signalVmGuards({ deliveries }: { deliveries: GuardDelivery[] }): Promise<void> {
      const checked = deliveries.map((d) => GuardDelivery.parse(d));
      await Promise.all(
        checked.map(({ guardId, vm, fvpServer, uuid, request }) =>
          client.workflow.signalWithStart(VM_GUARD_WORKFLOW_TYPE, {
            workflowId: guardId,
            taskQueue,
            args: [{ vm, fvpServer, ...(uuid === undefined ? {} : { uuid }) } satisfies VmGuardInput],
            signal: vmGuardRequestSignal,
            signalArgs: [request],
            memo: { kind: 'vm-guard', vm, fvpServer, ...(uuid === undefined ? {} : { uuid }) },
            // The Web UI's line for the guard (ignored when it already runs), cut to Temporal's
            // 200 bytes on a character boundary: a cut character decodes as U+FFFD, dropped.
            staticSummary: Buffer.from(`guard of ${vm} on ${fvpServer}`)
              .subarray(0, 200)
              .toString()
              .replace(/\uFFFD+$/, ''),
          }),
        ),
      );
    },

    async describeHolders({
      holders,
    }: {
      holders: { workflowId: string; firstRunId: string }[];
    }): Promise<{ workflowId: string; firstRunId: string; alive: boolean; status: string }[]> {
      return Promise.all(
        holders.map(async ({ workflowId, firstRunId }) => {
          try {
            const latest = await client.workflow.getHandle(workflowId).describe();
            const chain = latest.raw.workflowExecutionInfo?.firstRunId || latest.runId;
            const alive = latest.status.name === 'RUNNING' && chain === firstRunId;
            return { workflowId, firstRunId, alive, status: chain === firstRunId ? latest.status.name : 'REPLACED' };
          } catch (err) {
            if (err instanceof WorkflowNotFoundError)
              return { workflowId, firstRunId, alive: false, status: 'NOT_FOUND' };
            throw err;
          }
        }),
      );
    },

    async findGuardPredecessor({
      guardId,
      alsoGuardIds = [],
    }: {
      guardId: string;
      /**
       * Name-keyed ids the VM's guard had before `guard-by-uuid` (a fresh uuid-keyed guard's): their
       * closed runs count as this id's, in one order of closing, so the VM's latest guard run
       * decides whichever id it had (one that cleaned up, or took charge of an older record, is
       * newer than that record). An id with a Running run is left out: that live guard restores
       * its own record (runs route to it: guard-routing.ts).
       */
      alsoGuardIds?: string[];
    }): Promise<ClosedGuard | null> {
      const runs = await closedRunsOf(guardId);
      for (const legacyId of alsoGuardIds) {
        if (!(await isRunning(legacyId))) runs.push(...(await closedRunsOf(legacyId)));
      }
      runs.sort((a, b) => (b.closeTime?.getTime() ?? 0) - (a.closeTime?.getTime() ?? 0));
      return predecessorAmong(runs);
    },
  };

  async function isRunning(workflowId: string): Promise<boolean> {
    try {
      return (await client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  /** The closed runs of a guard id (visibility, with the test-only lag). */
  async function closedRunsOf(guardId: string): Promise<WorkflowExecutionInfo[]> {
    const query = `WorkflowType = '${VM_GUARD_WORKFLOW_TYPE}' AND WorkflowId = '${escapeQuery(guardId)}' AND ExecutionStatus != 'Running'`;
    const runs: WorkflowExecutionInfo[] = [];
    for await (const info of client.workflow.list({ query, pageSize: 100 })) {
      // Closed too recently for a lagging visibility store (test-only): it still looks Running.
      if (lagMs > 0 && Date.now() - (info.closeTime?.getTime() ?? 0) < lagMs) continue;
      runs.push(info);
    }
    return runs;
  }
}

/** Of closed runs newest first: the record of the newest that recorded one, unless a newer one cleaned up. */
function predecessorAmong(runs: WorkflowExecutionInfo[]): ClosedGuard | null {
  for (const info of runs) {
    if (info.status.name === 'COMPLETED') return null; // it cleaned up
    if (info.status.name === 'CONTINUED_AS_NEW') {
      // Its successor closed too (this guard is fresh) but is not visible yet.
      throw ApplicationFailure.retryable(
        `the successor of guard run ${info.runId} is not visible yet`,
        'NotVisibleYet',
      );
    }
    const closed = closedGuardOf(info);
    if (closed) return closed; // its record decides, dirty or not
    // Closed before it ever recorded anything: look further back.
  }
  return null;
}
