/**
 * Jobs that Veeam's own scheduler starts (issue 14): the lab's scheduler (lab/scheduler.ts) runs
 * the real CLI as the job's pre-job and post-job scripts (`hook pre-job|post-job --job`), starts the
 * session only when the pre-job script succeeded, retries a failed session as "(Retry N)", and runs
 * the post-job script after the last one. Real Temporal dev server (update-with-start), real worker
 * processes, the lab behind the real PowerShell boundary.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { workflowIdFor } from '../../client/ids';
import { runScheduledJob, runScript, type ScheduledJobOptions, type ScriptCommand } from '../../lab/scheduler';
import { statusQuery, type protectedBackup } from '../../workflows';
import type { ProtectedBackupRequest } from '../../workflows/input';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import {
  assertConsistentSessions,
  assertNothingChanged,
  assertPoliciesAre,
  requestedPolicies,
  sessionsOf,
} from '../helpers/lab-assertions';
import { JOB, scenario, vmNames } from '../helpers/scenarios';
import { jobsScenario, timelineOf } from '../helpers/guard';
import type { ScenarioJob } from '../../lab/scenario';
import { waitFor } from '../helpers/wait';
import { hookCommand, writeHookInput } from '../helpers/veeam-hooks';

/** The default scenario's VMs, in job order. */
const VMS = ['sql-01', 'app-01', 'web-01'];
/** The VMs read early in the task-slots test: their tasks end long before app-01's. */
const EARLY = ['sql-01', 'web-01'];

describe('Veeam-started runs: pre-job and post-job hooks around the job Veeam schedules', () => {
  let h: Harness;
  const taskQueue = uniqueId('veeam-started');

  /** A guard notices a terminated holder within a second (production: a minute). */
  const workerEnv = { FVPB_GUARD_CHECK_INTERVAL: '1 second' };

  before(async () => {
    h = await startHarness();
    await h.startWorker(taskQueue, workerEnv);
  });
  after(async () => h?.stop());

  /** The run input the hooks send (from a file, as an admin would keep it beside the script). */
  function inputFile(extra: Partial<ProtectedBackupRequest> = {}): string {
    const request = fastRequest(JOB, {
      veeamStarted: { sessionDeadline: '8 seconds', retryGrace: '4 seconds' },
      ...extra,
    });
    return writeHookInput(h.dir, request);
  }

  function hook(kind: 'pre-job' | 'post-job', input?: string): ScriptCommand {
    return hookCommand({ address: h.env.address, taskQueue, job: JOB }, kind, input);
  }

  async function load() {
    const input = scenario();
    await h.lab.client.loadScenario(input);
    return { vms: vmNames(input), policies: await requestedPolicies(h.lab) };
  }

  function schedule(options: Partial<ScheduledJobOptions> & { input?: string }) {
    const input = options.input ?? inputFile();
    return runScheduledJob({
      lab: h.lab.client,
      job: JOB,
      preJob: hook('pre-job', input),
      postJob: hook('post-job'),
      retryWaitMs: 500,
      ...options,
    });
  }

  function run() {
    return h.env.client.workflow.getHandle<typeof protectedBackup>(workflowIdFor(JOB));
  }

  /**
   * Every write-through window of every VM ended, and only once no session could read the VM any
   * more: after Veeam's last read of it, and, for a VM whose last task did not end Success or
   * Warning (a retry may read it), after the last session of the job had ended.
   */
  async function assertReleasedAfterSessions(): Promise<void> {
    const sessions = await sessionsOf(h.lab, JOB);
    const lastEnd = Math.max(...sessions.map((s) => s.endsAt));
    const verdicts = await h.lab.client.verdicts({ job: JOB });
    for (const vm of await h.lab.client.timeline()) {
      assert.ok(vm.writeThroughWindows.length > 0, `${vm.vm} was switched to write-through`);
      const lastTask = sessions.flatMap((s) => s.tasks.filter((t) => t.vm === vm.vm)).at(-1);
      const readForGood = lastTask?.result === 'Success' || lastTask?.result === 'Warning';
      const readUntil = Math.max(0, ...verdicts.filter((v) => v.vm === vm.vm).map((v) => v.readUntil ?? lastEnd));
      const heldUntil = readForGood ? readUntil : Math.max(readUntil, lastEnd);
      for (const window of vm.writeThroughWindows) {
        assert.ok(window.endedAt !== null, `${vm.vm} was restored`);
        assert.ok(
          window.endedAt >= heldUntil,
          `${vm.vm} restored at ${window.endedAt}, before ${heldUntil} (Veeam's last read ${readUntil}, last session's end ${lastEnd})`,
        );
      }
    }
  }

  test('a scheduled job with 3 VMs: pre-job protects, one session, every backup consistent, every VM restored', async () => {
    const { vms, policies } = await load();
    const report = await schedule({});
    assert.equal(report.preJob[0]?.exitCode, 0, `pre-job exit code (stderr: ${report.preJob[0]?.stderr})`);
    const answer = JSON.parse(report.preJob[0]!.stdout) as { ok: boolean; protected: string[] };
    assert.equal(answer.ok, true);
    assert.deepEqual([...answer.protected].sort(), [...vms].sort());
    assert.equal(report.postJob?.exitCode, 0, `post-job exit code (stderr: ${report.postJob?.stderr})`);
    const result = await run().result();
    assert.equal(result.phase, 'completed');
    assert.equal(result.backup.result, 'Success');
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    await assertPoliciesAre(h.lab, policies);
    await assertReleasedAfterSessions();
    const { invocations } = await h.lab.client.invocations();
    assert.deepEqual(
      invocations.filter((i) => i.op === 'Start-BackupJob' || i.op === 'Stop-BackupJob').map((i) => i.op),
      [],
      'the run never starts or stops the job',
    );
  });

  /** The default scenario's VMs in one job, tasks as given (`vmTasks`), two slots unless said otherwise. */
  async function loadSlots(job: Partial<ScenarioJob>) {
    await h.lab.client.loadScenario(jobsScenario([{ name: JOB, vms: VMS, taskSlots: 2, ...job }]));
    return requestedPolicies(h.lab);
  }

  /** When `vm`'s one write-through window ended (its restore). */
  async function restoredAt(vm: string): Promise<number> {
    const windows = (await timelineOf(h.lab, vm)).writeThroughWindows;
    assert.equal(windows.length, 1, `one write-through window for ${vm}`);
    assert.ok(windows[0]?.endedAt, `${vm} restored`);
    return windows[0].endedAt;
  }

  test('early release: with task slots, a VM whose task ended is back in write-back while the session still runs', async () => {
    // Two slots: sql-01 then web-01 are read in one while app-01's long task holds the other.
    const policies = await loadSlots({
      vmTasks: { 'sql-01': { taskMs: 800 }, 'app-01': { taskMs: 7000 }, 'web-01': { taskMs: 800 } },
    });
    const report = await schedule({});
    assert.equal(report.preJob[0]?.exitCode, 0, `pre-job exit code (stderr: ${report.preJob[0]?.stderr})`);
    const result = await run().result();
    assert.equal(result.phase, 'completed');
    assert.deepEqual(result.warnings, []);
    const [session] = await sessionsOf(h.lab, JOB);
    for (const vm of EARLY) {
      const ended = await restoredAt(vm);
      assert.ok(
        ended < session!.endsAt - 2000,
        `${vm} restored ${session!.endsAt - ended} ms before the session ended`,
      );
    }
    assert.ok((await restoredAt('app-01')) >= session!.endsAt, 'app-01 held until its task (the session) ended');
    await assertConsistentSessions(h.lab, JOB, 1, VMS);
    await assertReleasedAfterSessions();
    await assertPoliciesAre(h.lab, policies);
    // The report gives each VM's write-through window, as for runs the worker starts.
    const window = (vm: string) => result.vms.find((v) => v.vm === vm)?.writeThroughSeconds ?? NaN;
    for (const vm of EARLY) assert.ok(window(vm) + 2 < window('app-01'), `${vm}'s window is shorter than app-01's`);
  });

  test('early release across a retry: VMs read for good go at once; a failed VM stays held through the retry, released after it', async () => {
    // One slot: sql-01 and app-01 succeed, web-01 fails (in the retry too, which reads only web-01).
    const policies = await loadSlots({ taskSlots: 1, vmTasks: { 'web-01': { taskMs: 4000, outcome: 'Failed' } } });
    // Veeam may run the pre-job script before each retry: that hook joins the run. The retry comes
    // after the retry wait and that hook (a CLI start): a grace long enough for both.
    const input = inputFile({ veeamStarted: { sessionDeadline: '8 seconds', retryGrace: '30 seconds' } });
    const report = await schedule({ input, retries: 1, retryWaitMs: 2000, preJobBeforeEachRetry: true });
    assert.deepEqual(
      report.sessions.map((s) => [s.name, s.result]),
      [
        [JOB, 'Failed'],
        [`${JOB} (Retry 1)`, 'Failed'],
      ],
    );
    const answers = report.preJob.map((r) => JSON.parse(r.stdout) as { runId: string; protected: string[] });
    assert.equal(answers.length, 2);
    assert.equal(answers[1]?.runId, answers[0]?.runId, 'the hook before the retry joined the run');
    assert.deepEqual([...answers[0]!.protected].sort(), [...VMS].sort());
    assert.deepEqual(answers[1]?.protected, ['web-01'], 'before the retry, only the failed VM is still protected');
    await assert.rejects(run().result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.equal((err.cause as { type?: string } | undefined)?.type, 'BackupJobFailed');
      return true;
    });
    const [first, retry] = await sessionsOf(h.lab, JOB);
    assert.deepEqual(
      retry!.tasks.map((t) => t.vm),
      ['web-01'],
      'Veeam retries only the failed VM',
    );
    for (const vm of ['sql-01', 'app-01']) {
      const ended = await restoredAt(vm);
      assert.ok(ended < first!.endsAt, `${vm} restored ${first!.endsAt - ended} ms before the first session ended`);
    }
    assert.ok((await restoredAt('web-01')) >= retry!.endsAt, 'web-01 held until the retry ended');
    for (const verdict of await h.lab.client.verdicts({ job: JOB })) {
      assert.equal(verdict.consistent, true, `${verdict.sessionId}/${verdict.vm}: ${verdict.reason}`);
    }
    await assertReleasedAfterSessions();
    await assertPoliciesAre(h.lab, policies);
    const status = await run().query(statusQuery);
    const window = (vm: string) => status.vms.find((v) => v.vm === vm)?.writeThroughSeconds ?? NaN;
    for (const vm of ['sql-01', 'app-01']) {
      assert.ok(window(vm) + 2 < window('web-01'), `${vm}'s window is shorter than web-01's`);
    }
  });

  test('a pre-job hook before a retry that starts after the retry grace: the run waits for that retry', async () => {
    // The pre-job script does more after the hook (10 s), so Veeam starts the retry well after
    // the 8 s retry grace; the hook had joined within it, and was told web-01 is protected.
    const policies = await loadSlots({ taskSlots: 1, vmTasks: { 'web-01': { taskMs: 1500, outcome: 'Failed' } } });
    const input = inputFile({ veeamStarted: { sessionDeadline: '20 seconds', retryGrace: '8 seconds' } });
    const direct = hook('pre-job', input);
    const slowPreJob: ScriptCommand = {
      ...direct,
      command: '/bin/sh',
      args: ['-c', '"$0" "$@"; rc=$?; sleep 10; exit $rc', direct.command, ...direct.args],
    };
    const report = await schedule({ preJob: slowPreJob, retries: 1, retryWaitMs: 500, preJobBeforeEachRetry: true });
    assert.equal(report.sessions.length, 2);
    const answers = report.preJob.map((r) => JSON.parse(r.stdout) as { runId: string; protected: string[] });
    assert.equal(answers[1]?.runId, answers[0]?.runId, 'the hook before the retry joined the run');
    assert.deepEqual(answers[1]?.protected, ['web-01']);
    await assert.rejects(run().result(), WorkflowFailedError);
    const [first, retry] = await sessionsOf(h.lab, JOB);
    assert.ok(retry!.createdAt > first!.endsAt + 8000, 'the retry started after the retry grace');
    assert.ok((await restoredAt('web-01')) >= retry!.endsAt, 'web-01 held until the retry ended');
    for (const verdict of await h.lab.client.verdicts({ job: JOB })) {
      assert.equal(verdict.consistent, true, `${verdict.sessionId}/${verdict.vm}: ${verdict.reason}`);
    }
    await assertReleasedAfterSessions();
    await assertPoliciesAre(h.lab, policies);
  });

  test('early release when a failed session stops: what it read goes before the retry wait, not after the retry', async () => {
    // One slot: sql-01 fails first; web-01's task ends with the session, so only the session's end
    // can let it go before Veeam's retry (which reads sql-01 alone).
    const policies = await loadSlots({ taskSlots: 1, vmTasks: { 'sql-01': { outcome: 'Failed' } } });
    const report = await schedule({ retries: 1, retryWaitMs: 4000 });
    assert.equal(report.sessions.length, 2);
    await assert.rejects(run().result(), WorkflowFailedError);
    const [, retry] = await sessionsOf(h.lab, JOB);
    assert.deepEqual(
      retry!.tasks.map((t) => t.vm),
      ['sql-01'],
    );
    for (const vm of ['app-01', 'web-01']) {
      const ended = await restoredAt(vm);
      assert.ok(ended < retry!.createdAt, `${vm} restored ${retry!.createdAt - ended} ms before the retry started`);
    }
    assert.ok((await restoredAt('sql-01')) >= retry!.endsAt, 'sql-01 held until the retry ended');
    for (const verdict of await h.lab.client.verdicts({ job: JOB })) {
      assert.equal(verdict.consistent, true, `${verdict.sessionId}/${verdict.vm}: ${verdict.reason}`);
    }
    await assertReleasedAfterSessions();
    await assertPoliciesAre(h.lab, policies);
  });

  test('a failed pre-job (FVP down): the hook exits non-zero, Veeam starts no session, nothing changed', async () => {
    const { policies } = await load();
    await h.lab.client.setManagementServer(false);
    try {
      const input = inputFile({ timeouts: { ...fastRequest(JOB).timeouts, retryMaximumAttempts: 2 } });
      const report = await schedule({ input });
      assert.notEqual(report.preJob[0]?.exitCode, 0, 'the pre-job hook failed');
      assert.match(report.preJob[0]!.stderr, /NOT PROTECTED/);
      assert.equal(report.sessions.length, 0);
      await assert.rejects(run().result(), WorkflowFailedError);
      await assertNothingChanged(h.lab, policies, JOB);
    } finally {
      await h.lab.client.setManagementServer(true);
    }
  });

  test('a session that fails is retried: the VMs stay protected through the retry and are released after it', async () => {
    const { vms, policies } = await load();
    const report = await schedule({ retries: 1, outcomes: ['Failed', 'Success'] });
    assert.deepEqual(
      report.sessions.map((s) => [s.name, s.result]),
      [
        [JOB, 'Failed'],
        [`${JOB} (Retry 1)`, 'Success'],
      ],
    );
    let outcome: Awaited<ReturnType<typeof protectedBackup>> | undefined;
    let failure: unknown;
    try {
      outcome = await run().result();
    } catch (err) {
      failure = err;
    }
    // First what matters: the retry read flushed disks, and nothing was released before it ended.
    await assertConsistentSessions(h.lab, JOB, 2, vms);
    await assertReleasedAfterSessions();
    await assertPoliciesAre(h.lab, policies);
    assert.equal(failure, undefined, `the run completed: ${String(failure)}`);
    assert.equal(outcome?.phase, 'completed');
    assert.equal(outcome?.backup.sessionId, report.sessions[1]?.id, 'the run followed the retry');
  });

  /** Kills every worker and starts a fresh one: the run goes on in the next worker. */
  async function replaceWorkers(): Promise<void> {
    await Promise.all(h.workers.map((w) => w.kill('SIGKILL')));
    await h.startWorker(taskQueue, workerEnv);
  }

  const workerKills: { when: string; kill: Partial<ScheduledJobOptions> }[] = [
    {
      when: 'between the pre-job answer and the session start: the next worker follows it',
      kill: { afterPreJob: replaceWorkers },
    },
    {
      when: 'during the session: VMs stay protected until Veeam has read them',
      kill: {
        onSession: async () => {
          await new Promise((resolve) => setTimeout(resolve, 300));
          await replaceWorkers();
        },
      },
    },
  ];
  for (const { when, kill } of workerKills) {
    test(`the worker killed ${when}`, async () => {
      const { vms, policies } = await load();
      const report = await schedule(kill);
      assert.equal(report.preJob[0]?.exitCode, 0);
      assert.equal((await run().result()).phase, 'completed');
      await assertConsistentSessions(h.lab, JOB, 1, vms);
      await assertPoliciesAre(h.lab, policies);
      await assertReleasedAfterSessions();
    });
  }

  test('cancelled after the pre-job answer: the run still follows the session Veeam starts and releases after it', async () => {
    const { vms, policies } = await load();
    await schedule({
      afterPreJob: async () => {
        await run().cancel();
      },
    });
    await assert.rejects(run().result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.ok(err.cause instanceof CancelledFailure, `cancelled, got ${String(err.cause)}`);
      return true;
    });
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    await assertPoliciesAre(h.lab, policies);
    await assertReleasedAfterSessions();
  });

  test('terminated during the session: the guards restore only once the job has stopped', async () => {
    const input = scenario({ taskMs: 1_500 });
    await h.lab.client.loadScenario(input);
    const policies = await requestedPolicies(h.lab);
    await schedule({
      onSession: async () => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        await run().terminate('test: terminated during the session');
      },
    });
    await waitFor(
      'every policy back',
      async () => {
        const now = await requestedPolicies(h.lab);
        return [...policies].every(([vm, p]) => JSON.stringify(now.get(vm)) === JSON.stringify(p));
      },
      60_000,
      200,
    );
    await assertConsistentSessions(h.lab, JOB, 1, vmNames(input));
    await assertReleasedAfterSessions();
  });

  test('a post-job hook that never comes: released after the session (and the retry grace), not never', async () => {
    const { vms, policies } = await load();
    const report = await schedule({ postJob: null, outcomes: ['Failed'] });
    assert.equal(report.postJob, null);
    await assert.rejects(run().result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.match(String(err.cause?.message), /ended with result Failed/);
      return true;
    });
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    await assertPoliciesAre(h.lab, policies);
    await assertReleasedAfterSessions();
  });

  test('no session within the deadline (the job was disabled after its pre-job): released', async () => {
    const { policies } = await load();
    const report = await schedule({ startSession: false, postJob: null });
    assert.equal(report.preJob[0]?.exitCode, 0);
    const result = await run().result();
    assert.equal(result.phase, 'completed');
    assert.match(result.warnings.join('\n'), /no session of .* started within 8 seconds/);
    await assertPoliciesAre(h.lab, policies);
    assert.equal((await sessionsOf(h.lab, JOB)).length, 0);
  });

  test('a session that began before the flush was verified (Veeam did not wait): the hook fails, released after it', async () => {
    // Slow destage: the switch happens well before the flush is verified.
    const input = scenario({ destageMs: () => 3_000 });
    await h.lab.client.loadScenario(input);
    const policies = await requestedPolicies(h.lab);
    const { nextSeq } = await h.lab.client.invocations();
    const preJob = runScript(hook('pre-job', inputFile()), 120_000);
    // Veeam starts the session once the run has switched the VMs, without waiting for the hook.
    for (;;) {
      const { invocations } = await h.lab.client.invocations({ sinceSeq: nextSeq, op: 'Set-VmWriteThrough' });
      if (invocations.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await h.lab.client.startScheduledSession(JOB);
    const answered = await preJob;
    assert.notEqual(answered.exitCode, 0, `the pre-job hook must fail (stdout: ${answered.stdout})`);
    assert.match(answered.stderr, /began .*before the flush was verified/);
    await assert.rejects(run().result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.equal((err.cause as { type?: string } | undefined)?.type, 'BackedUpUnprotected');
      return true;
    });
    await assertPoliciesAre(h.lab, policies);
    await assertReleasedAfterSessions();
  });

  test('overlapping with a run fvpb starts on another job sharing a VM: both consistent, the shared VM restored after both', async () => {
    const OTHER = 'Nightly-App';
    const shared = 'app-01';
    await h.lab.client.loadScenario(
      jobsScenario([
        { name: JOB, vms: ['sql-01', shared], taskMs: 600 },
        { name: OTHER, vms: [shared, 'web-01'], taskMs: 600 },
      ]),
    );
    const policies = await requestedPolicies(h.lab);
    let other: ReturnType<Harness['start']> | undefined;
    const report = await schedule({
      // The other job starts while this one is protected and about to start its session.
      afterPreJob: async () => {
        other = h.start(taskQueue, fastRequest(OTHER), workflowIdFor(OTHER));
        const handle = await other;
        // Both hold the shared VM before Veeam starts this job's session.
        await waitFor('the other run holds the shared VM', async () => {
          const status = await handle.query(statusQuery);
          return status.vms.find((vm) => vm.vm === shared)?.step === 'flushed';
        });
      },
    });
    assert.equal(report.preJob[0]?.exitCode, 0);
    assert.equal((await run().result()).phase, 'completed');
    assert.equal((await (await other!).result()).phase, 'completed');
    for (const job of [JOB, OTHER]) {
      const sessions = await sessionsOf(h.lab, job);
      assert.equal(sessions.length, 1, `one session of ${job}`);
      for (const v of await h.lab.client.verdicts({ sessionId: sessions[0]!.id })) {
        assert.equal(v.consistent, true, `${job}/${v.vm}: ${v.reason}`);
      }
    }
    await assertPoliciesAre(h.lab, policies);
    const timeline = (await h.lab.client.timeline()).find((t) => t.vm === shared)!;
    assert.equal(timeline.writeThroughWindows.length, 1, `${shared} switched once, restored once`);
    const [ours] = await sessionsOf(h.lab, JOB);
    assert.ok(timeline.writeThroughWindows[0]!.endedAt! >= ours!.endsAt, `${shared} restored after this job's session`);
  });

  test('the pre-job hook run twice for the same job: both join one run, one switch per VM, one session', async () => {
    const { vms, policies } = await load();
    const input = inputFile();
    const second = runScheduledJob({
      lab: h.lab.client,
      job: JOB,
      preJob: hook('pre-job', input),
      postJob: null,
      startSession: false,
    });
    const report = await schedule({ input });
    const twice = await second;
    const answers = [report.preJob[0]!, twice.preJob[0]!].map((r) => {
      assert.equal(r.exitCode, 0, `pre-job exit code (stderr: ${r.stderr})`);
      return JSON.parse(r.stdout) as { runId: string };
    });
    assert.equal(answers[0]?.runId, answers[1]?.runId, 'both hooks answered by the same run');
    assert.equal((await run().result()).phase, 'completed');
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    await assertPoliciesAre(h.lab, policies);
    const { invocations } = await h.lab.client.invocations({ op: 'Set-VmWriteThrough' });
    assert.equal(invocations.length, vms.length, 'each VM switched once');
  });
});
