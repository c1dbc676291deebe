/**
 * Recorded paths of a running guard adopting a carried record (patch 'adopt-carried-records'),
 * driven as test/integration/successor-adoption.test.ts drives them: a worker that models a
 * lagging visibility store (FVPB_TEST_VISIBILITY_LAG_MS), guard A terminated under run 1, guard B
 * started by run 2 blind to A (it takes the write-through for the VM's own policy), then A's record
 * reaches B:
 *   `<v>-guard-adopted-release`: B, adopting the record run 1's release carries;
 *     `<v>-adoption-releasing-run`: run 1, whose release carried it;
 *   `<v>-guard-adopted-reconcile`: B, adopting the record the reconciler sends (run 1 terminated
 *     too, nobody else carries it); `<v>-reconcile-held`: that reconciler, answered "held".
 */
import { fastRequest, fastVeeam, uniqueId } from '../helpers/harness';
import { sessionsOf } from '../helpers/lab-assertions';
import { guardId, guardState, guardWorkerEnv, jobsScenario, waitFor } from '../helpers/guard';
import { readGuardStatus } from '../../client/guard/status';
import { runReconciler } from '../../client/guard/reconcile';
import { ADOPT_CARRIED_RECORDS } from '../../workflows/guard/record';
import { adoptedFromRelease, type VmGuardResult } from '../../domain/guard-protocol';
import { check, closedGuard, save, type Recording } from './recording';

const VM = 'sql-01';

export async function recordSuccessorAdoption({ h, version }: Recording): Promise<void> {
  // Its own queue: the modelled lag must not reach the other recordings' guards.
  const taskQueue = uniqueId('record-lag');
  await h.startWorker(taskQueue, { ...guardWorkerEnv, FVPB_TEST_VISIBILITY_LAG_MS: '120000' });
  const request = (job: string) => fastRequest(job, { veeam: { ...fastVeeam, release: 'session-end' } });

  /** Run 1 holds the VM through guard A, its job running; A is terminated; run 2's guard B grants blind. */
  async function blindSuccessor(name: string, terminateRun1: boolean) {
    await h.lab.client.loadScenario(
      jobsScenario([
        { name: 'Job-1', vms: [VM], taskMs: 3000 },
        { name: 'Job-2', vms: [VM], taskMs: 9000 },
      ]),
    );
    const since = Date.now();
    const run1 = await h.start(taskQueue, request('Job-1'), `replay-${version}-${name}-run-1`);
    await waitFor('job 1 to be running', async () =>
      (await sessionsOf(h.lab, 'Job-1')).some((s) => s.state === 'Working' && s.progress > 0),
    );
    const guardA = await h.env.client.workflow.getHandle(guardId(VM)).describe();
    await h.env.client.workflow.getHandle(guardId(VM)).terminate('recording: guard terminated');
    if (terminateRun1) await run1.terminate('recording: run 1 terminated too');
    const run2 = await h.start(taskQueue, request('Job-2'), `replay-${version}-${name}-run-2`);
    await waitFor('guard B to grant run 2 blind', async () => {
      const state = await guardState(h.env.client, VM);
      return state?.holders.some((x) => x.granted) && state.alreadyWriteThrough;
    });
    return { since, run1, run2, guardARunId: guardA.runId };
  }

  /** B's closed run, once it says whose record it adopted. */
  async function adoptingGuard(since: number): Promise<{ runId: string; adoptedFrom: string | null }> {
    const runId = await closedGuard(h, VM, since);
    const result = (await h.env.client.workflow.getHandle(guardId(VM), runId).result()) as VmGuardResult;
    return { runId, adoptedFrom: result.adoptedFrom };
  }

  {
    const { since, run1, run2 } = await blindSuccessor('adoption-release', false);
    check((await run1.result()).phase === 'completed', 'run 1 completed');
    check((await run2.result()).phase === 'completed', 'run 2 completed');
    const b = await adoptingGuard(since);
    const released = adoptedFromRelease({ workflowId: run1.workflowId, firstRunId: (await run1.describe()).runId });
    check(b.adoptedFrom === released, `B adopted run 1's release record: ${b.adoptedFrom}`);
    save(h, `${version}-adoption-releasing-run.json`, run1.workflowId);
    save(h, `${version}-guard-adopted-release.json`, guardId(VM), b.runId, [ADOPT_CARRIED_RECORDS]);
  }

  {
    const { since, run2, guardARunId } = await blindSuccessor('adoption-reconcile', true);
    await waitFor('A to be listed unrestored beside its running successor', async () => {
      const found = await readGuardStatus(h.env.client);
      return found.unrestored.some((u) => u.runId === guardARunId);
    });
    const reconciledSince = Date.now();
    const report = await runReconciler(h.env.client, { taskQueue });
    check(
      report.entries.some((e) => e.vm === VM && e.outcome === 'held'),
      `the reconciler sent A's record to B: ${JSON.stringify(report.entries)}`,
    );
    check((await run2.result()).phase === 'completed', 'run 2 completed');
    const b = await adoptingGuard(since);
    check(b.adoptedFrom === guardARunId, `B adopted A's record from the reconciler: ${b.adoptedFrom}`);
    save(h, `${version}-guard-adopted-reconcile.json`, guardId(VM), b.runId, [ADOPT_CARRIED_RECORDS]);
    const reconciler = await waitFor('the reconciler run to be listed', async () => {
      for await (const info of h.env.client.workflow.list({ query: `WorkflowType = 'reconcilePolicies'` })) {
        if (info.startTime.getTime() >= reconciledSince) return info;
      }
      return undefined;
    });
    save(h, `${version}-reconcile-held.json`, reconciler.workflowId, reconciler.runId);
  }
}
