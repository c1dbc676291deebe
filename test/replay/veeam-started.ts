/**
 * Recorded Veeam-started runs (patches 'veeam-started', 'veeam-started-early-release',
 * 'veeam-started-pre-job-extends-retry-wait'), driven as test/integration/veeam-started.test.ts
 * drives them: the lab's scheduler runs the real CLI hooks around sessions it starts itself.
 *   `<v>-veeam-started-early-release`: two task slots, app-01's task long: sql-01 and web-01 are
 *     let go while the session still runs;
 *   `<v>-veeam-started-retry`: one slot, web-01 fails, Veeam retries it as "(Retry 1)"; the
 *     pre-job hook runs again before the retry, joins the run after the failed session and then
 *     outlasts the retry grace, so the wait for the retry is extended; sql-01 and app-01 are let go
 *     before it.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { runScheduledJob, type ScheduledJobOptions, type ScriptCommand } from '../../lab/scheduler';
import { workflowIdFor } from '../../client/ids';
import type { protectedBackup } from '../../workflows';
import {
  VEEAM_STARTED_EARLY_RELEASE_PATCH,
  VEEAM_STARTED_PATCH,
  PRE_JOB_EXTENDS_RETRY_WAIT_PATCH,
} from '../../workflows/veeam-started';
import type { ScenarioJob } from '../../lab/scenario';
import { fastRequest } from '../helpers/harness';
import { jobsScenario } from '../helpers/guard';
import { JOB } from '../helpers/scenarios';
import { hookCommand, writeHookInput } from '../helpers/veeam-hooks';
import { check, save, type Recording } from './recording';

const VMS = ['sql-01', 'app-01', 'web-01'];

export async function recordVeeamStarted({ h, version, taskQueue }: Recording): Promise<void> {
  const target = { address: h.env.address, taskQueue, job: JOB };

  async function scheduled(
    file: string,
    job: Partial<ScenarioJob>,
    sessions: { sessionDeadline: string; retryGrace: string },
    options: (preJob: ScriptCommand) => Partial<ScheduledJobOptions>,
  ) {
    await h.lab.client.loadScenario(jobsScenario([{ name: JOB, vms: VMS, taskSlots: 2, ...job }]));
    const input = writeHookInput(h.dir, fastRequest(JOB, { veeamStarted: sessions }));
    const report = await runScheduledJob({
      lab: h.lab.client,
      job: JOB,
      preJob: hookCommand(target, 'pre-job', input),
      postJob: hookCommand(target, 'post-job'),
      retryWaitMs: 500,
      ...options(hookCommand(target, 'pre-job', input)),
    });
    const answers = report.preJob.map((run) => {
      check(run.exitCode === 0, `${file}: pre-job exit code ${run.exitCode} (${run.stderr})`);
      return JSON.parse(run.stdout) as { runId: string; protected: string[] };
    });
    const handle = h.env.client.workflow.getHandle<typeof protectedBackup>(workflowIdFor(JOB), answers[0]?.runId);
    const outcome = await handle.result().then(
      (result) => result.phase,
      (err: unknown) =>
        err instanceof WorkflowFailedError ? String((err.cause as { type?: string }).type) : String(err),
    );
    return { report, answers, runId: answers[0]?.runId, outcome };
  }

  {
    const file = `${version}-veeam-started-early-release.json`;
    const { report, runId, outcome } = await scheduled(
      file,
      { vmTasks: { 'sql-01': { taskMs: 800 }, 'app-01': { taskMs: 7000 }, 'web-01': { taskMs: 800 } } },
      { sessionDeadline: '8 seconds', retryGrace: '4 seconds' },
      () => ({}),
    );
    check(
      outcome === 'completed' && report.sessions.length === 1,
      `${file}: ${outcome}, ${report.sessions.length} sessions`,
    );
    save(h, file, workflowIdFor(JOB), runId, [VEEAM_STARTED_PATCH, VEEAM_STARTED_EARLY_RELEASE_PATCH]);
  }

  {
    // The pre-job script goes on for 10 s after its hook answered: Veeam starts the retry well
    // after the 8 s retry grace, the hook having joined within it.
    const file = `${version}-veeam-started-retry.json`;
    const { report, answers, runId, outcome } = await scheduled(
      file,
      { taskSlots: 1, vmTasks: { 'web-01': { taskMs: 1500, outcome: 'Failed' } } },
      { sessionDeadline: '20 seconds', retryGrace: '8 seconds' },
      (direct) => ({
        preJob: {
          ...direct,
          command: '/bin/sh',
          args: ['-c', '"$0" "$@"; rc=$?; sleep 10; exit $rc', direct.command, ...direct.args],
        },
        retries: 1,
        preJobBeforeEachRetry: true,
      }),
    );
    check(
      report.sessions.map((s) => s.name).join('|') === `${JOB}|${JOB} (Retry 1)` && outcome === 'BackupJobFailed',
      `${file}: sessions ${report.sessions.map((s) => `${s.name} ${s.result}`).join(', ')}, run ${outcome}`,
    );
    check(
      answers[1]?.runId === runId && answers[1]?.protected.join() === 'web-01',
      `${file}: the hook before the retry joined the run for web-01 alone: ${JSON.stringify(answers)}`,
    );
    save(h, file, workflowIdFor(JOB), runId, [
      VEEAM_STARTED_PATCH,
      VEEAM_STARTED_EARLY_RELEASE_PATCH,
      PRE_JOB_EXTENDS_RETRY_WAIT_PATCH,
    ]);
  }
}
