/**
 * Recorded run paths under patches older than v5 that no earlier fixture took, driven as their
 * integration tests drive them:
 *   `<v>-fail-closed-unknown-vm` ('fail-closed-vms', test/integration/fail-closed.test.ts): a VM of
 *     the job that FVP does not know fails the run before anything changes;
 *   `<v>-start-fenced` ('start-fencing', start-fencing.test.ts): the start fails after it took
 *     effect, its session not visible yet: the run stops what it may have started, then restores;
 *   `<v>-schedule-warning` ('veeam-schedule-warning', veeam-schedule-warning.test.ts): a run on a
 *     job that Veeam also schedules completes with a warning.
 * Not recordable: 'abandoned-job-wait-holds' (guard/steps.ts) is asked only on the long wait of
 * histories from before 'abandoned-job-short-reads', which every new guard takes instead.
 */
import { WorkflowFailedError } from '@temporalio/client';
import type { ScenarioInput } from '../../lab/scenario';
import { START_FENCING_PATCH } from '../../workflows/backup-job';
import { SCHEDULE_WARNING_PATCH } from '../../workflows/schedule-warning';
import { fastRequest } from '../helpers/harness';
import { JOB, scenario } from '../helpers/scenarios';
import { check, save, type Recording } from './recording';
import { startFailsAfterItTookEffect } from '../helpers/faults';

/** Not exported by protected-backup.ts: its marker is checked by name. */
const FAIL_CLOSED_VMS = 'fail-closed-vms';

type InputJob = NonNullable<NonNullable<ScenarioInput['veeam']>['jobs']>[number];

/** The default scenario with its job changed as given. */
function withJob(change: (job: InputJob) => InputJob): ScenarioInput {
  const base = scenario();
  return { ...base, veeam: { ...base.veeam, jobs: (base.veeam?.jobs ?? []).map(change) } };
}

/** The failure type a run closed with, or its phase when it completed. */
async function outcomeOf(result: Promise<{ phase: string }>): Promise<string> {
  return result.then(
    (report) => report.phase,
    (err: unknown) =>
      err instanceof WorkflowFailedError ? String((err.cause as { type?: string }).type) : String(err),
  );
}

export async function recordRunPatches({ h, version, taskQueue }: Recording): Promise<void> {
  {
    // A VM that only Veeam knows (no FVP cluster has it).
    await h.lab.client.loadScenario(withJob((job) => ({ ...job, vms: [...(job.vms ?? []), 'file-99'] })));
    const handle = await h.start(taskQueue, fastRequest(JOB), `replay-${version}-fail-closed-unknown-vm`);
    const outcome = await outcomeOf(handle.result());
    check(outcome === 'UnknownVm', `fail-closed-unknown-vm: the run ended ${outcome}`);
    save(h, `${version}-fail-closed-unknown-vm.json`, handle.workflowId, undefined, [FAIL_CLOSED_VMS]);
  }
  {
    // The session shows 1.5 s after the start; the start fails after it took effect.
    await h.lab.client.loadScenario(withJob((job) => ({ ...job, sessionAppearDelayMs: 1_500, startDelayMs: 3_000 })));
    await h.lab.client.setFaults([startFailsAfterItTookEffect]);
    const handle = await h.start(taskQueue, fastRequest(JOB), `replay-${version}-start-fenced`);
    const outcome = await outcomeOf(handle.result());
    await h.lab.client.clearFaults();
    check(outcome === 'System.InvalidOperationException', `start-fenced: the run ended ${outcome}`);
    save(h, `${version}-start-fenced.json`, handle.workflowId, undefined, [START_FENCING_PATCH]);
  }
  {
    await h.lab.client.loadScenario(withJob((job) => ({ ...job, scheduleEnabled: true })));
    const handle = await h.start(taskQueue, fastRequest(JOB), `replay-${version}-schedule-warning`);
    const report = await handle.result();
    check(
      report.phase === 'completed' && report.warnings.some((w) => /also scheduled in Veeam/.test(w)),
      `schedule-warning: ${report.phase}, warnings ${JSON.stringify(report.warnings)}`,
    );
    save(h, `${version}-schedule-warning.json`, handle.workflowId, undefined, [SCHEDULE_WARNING_PATCH]);
  }
}
