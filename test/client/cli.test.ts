/**
 * The CLI against the real dev server, a real worker process and the lab: `run` follows a run to
 * its report with the documented exit codes (0 success, 4 warning, 1 failure, 3 cancelled, 5 a run
 * of the job already open), `start`/`status`/`cancel`/`list` with --json, and `doctor`.
 * Commands run in-process through main(); one case runs the real `npm run cli` entry point.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { ExitCode } from '../../client/exit-codes';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertConsistentSessions, assertPoliciesAre, requestedPolicies, sessionsOf } from '../helpers/lab-assertions';
import { JOB, scenario, vmNames } from '../helpers/scenarios';
import { repoRoot } from '../helpers/tools';
import { cliEnv, runCli, waitFor } from './helpers';

describe('CLI', () => {
  let h: Harness;
  let env: NodeJS.ProcessEnv;
  let inputFile: string;
  const taskQueue = uniqueId('cli');

  before(async () => {
    h = await startHarness(scenario());
    await h.startWorker(taskQueue);
    env = cliEnv(h.env.address, taskQueue);
    inputFile = join(h.dir, 'input.json');
    // The fast timings of the tests, as an operator would keep them in a file.
    const { job: _job, ...rest } = fastRequest(JOB);
    writeFileSync(inputFile, JSON.stringify(rest));
  });
  after(async () => h?.stop());

  async function load(options: Parameters<typeof scenario>[0] = {}) {
    const s = scenario(options);
    await h.lab.client.loadScenario(s);
    return { vms: vmNames(s), policies: await requestedPolicies(h.lab) };
  }

  test('run: live progress line by line, then the report; exit 0', async () => {
    // Long enough tasks that the poll sees the job working (its progress is reported about once a second).
    const { vms, policies } = await load({ taskMs: 1_000 });
    const result = await runCli(['run', '--job', JOB, '--input', inputFile], env);
    assert.equal(result.code, ExitCode.success, result.stderr + result.stdout);
    const out = result.stdout;
    assert.match(out, /^Started protected-backup\/Nightly-SQL \(run [0-9a-f-]+\) on task queue/m);
    // The display samples the status query: short phases may fall between two reads, long ones may not.
    const order = [
      'validating',
      'resolving',
      'switching-to-write-through',
      'verifying-flush',
      'backing-up',
      'restoring',
      'completed',
    ];
    const phases = [...out.matchAll(/\] phase (\S+)$/gm)].map((m) => m[1] as string);
    assert.deepEqual(
      phases,
      [...phases].sort((a, b) => order.indexOf(a) - order.indexOf(b)),
      'phases in order',
    );
    for (const phase of ['backing-up', 'completed']) assert.ok(phases.includes(phase), `progress shows phase ${phase}`);
    for (const vm of vms) {
      assert.match(out, new RegExp(`\\] ${vm}: flushed \\(`, 'm'), `flush progress of ${vm}`);
      assert.match(
        out,
        new RegExp(`^  ${vm} +\\d+\\.\\ds +\\d+\\.\\ds +restored WriteBack, 1 peer`, 'm'),
        `report row of ${vm}`,
      );
    }
    assert.match(out, /\] Veeam Working \d+%$/m, 'job progress');
    assert.match(out, /^Run protected-backup\/Nightly-SQL \(run .*\) completed$/m);
    assert.match(out, /Veeam session .*: Stopped, result Success/);
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    await assertPoliciesAre(h.lab, policies);
  });

  test('run on a TTY redraws one block in place', async () => {
    await load();
    const result = await runCli(['run', '--job', JOB, '--input', inputFile, '--dry-run'], env, { tty: true });
    assert.equal(result.code, ExitCode.success, result.stderr);
    const esc = String.fromCharCode(27);
    assert.ok(new RegExp(`${esc}\\[\\d+F`).test(result.stdout), 'moves the cursor up to redraw');
    assert.ok(result.stdout.includes(`${esc}[2KNightly-SQL (dry run)  phase: completed`), result.stdout);
  });

  test('run --json: one document with the outcome, the report and the exit code', async () => {
    await load({ outcome: 'Warning' });
    const result = await runCli(['run', '--job', JOB, '--input', inputFile, '--json'], env);
    assert.equal(result.code, ExitCode.warning);
    const doc = result.json<{ kind: string; exitCode: number; report: { backup: { result: string } } }>();
    assert.equal(doc.kind, 'warning');
    assert.equal(doc.exitCode, ExitCode.warning);
    assert.equal(doc.report.backup.result, 'Warning');
  });

  test('run: a failed backup exits 1 and prints why', async () => {
    const { policies } = await load({ outcome: 'Failed' });
    const result = await runCli(['run', '--job', JOB, '--input', inputFile], env);
    assert.equal(result.code, ExitCode.failure);
    assert.match(result.stdout, /FAILED: BackupJobFailed: Veeam job "Nightly-SQL" ended with result Failed/);
    await assertPoliciesAre(h.lab, policies);
  });

  test('an invalid input exits 2 naming the field, and nothing starts', async () => {
    await load();
    const { invocations: before } = await h.lab.client.invocations();
    const bad = join(h.dir, 'bad.yaml');
    writeFileSync(bad, 'job: Nightly-SQL\nflush:\n  deadline: soon\n');
    const result = await runCli(['run', '--input', bad, '--json'], env);
    assert.equal(result.code, ExitCode.usage);
    assert.match(result.stderr, /invalid protectedBackup input: flush\.deadline: expected a positive duration/);
    assert.equal(result.json<{ exitCode: number }>().exitCode, ExitCode.usage);
    const { invocations: afterwards } = await h.lab.client.invocations();
    assert.equal(afterwards.length, before.length, 'nothing reached the lab');
    assert.equal((await sessionsOf(h.lab, JOB)).length, 0);
  });

  test('start, status, a second start (exit 5), cancel --wait (exit 3), list', async () => {
    const { policies } = await load({ taskMs: 5_000 });
    const started = await runCli(['start', '--job', JOB, '--input', inputFile, '--json'], env);
    assert.equal(started.code, ExitCode.success, started.stderr);
    const { workflowId, runId } = started.json<{ workflowId: string; runId: string }>();
    assert.equal(workflowId, `protected-backup/${JOB}`);

    const second = await runCli(['start', '--job', JOB, '--input', inputFile], env);
    assert.equal(second.code, ExitCode.alreadyRunning);
    assert.match(second.stderr, /already running \(workflow id "protected-backup\/Nightly-SQL", run /);

    await waitFor('the backup phase', async () => {
      const status = await runCli(['status', '--job', JOB, '--json'], env);
      const doc = status.json<{ status: { phase: string } | null }>();
      return doc.status?.phase === 'backing-up';
    });
    const text = await runCli(['status', workflowId], env);
    assert.match(text.stdout, /running, started /);
    assert.match(text.stdout, /phase: backing-up/);

    const cancelled = await runCli(['cancel', workflowId, '--wait'], env);
    assert.equal(cancelled.code, ExitCode.cancelled, cancelled.stderr);
    assert.match(cancelled.stdout, /Cancellation requested/);
    assert.match(cancelled.stdout, /cancelled/);
    await assertPoliciesAre(h.lab, policies);

    const done = await runCli(['status', workflowId, '--run-id', runId, '--json'], env);
    assert.equal(done.json<{ executionStatus: string }>().executionStatus, 'CANCELLED');

    const listed = await waitFor('the list to show the run closed', async () => {
      const list = await runCli(['list', '--job', JOB, '--json'], env);
      const runs = list.json<{ runs: { runId: string; status: string; closeTime: string | null }[] }>().runs;
      return runs.find((r) => r.runId === runId && r.status === 'CANCELLED') ? runs : null;
    });
    assert.ok(listed.length >= 4);
    const table = await runCli(['list', '--limit', '2'], env);
    assert.equal(table.stdout.trim().split('\n').length, 2);
    assert.match(table.stdout, /^cancelled {2}/m);
  });

  test('status and cancel of an unknown run exit 1 with a message', async () => {
    const status = await runCli(['status', 'protected-backup/nope'], env);
    assert.equal(status.code, ExitCode.failure);
    assert.match(status.stderr, /no run with workflow id "protected-backup\/nope"/);
    const cancel = await runCli(['cancel', '--job', 'nope', '--json'], env);
    assert.equal(cancel.code, ExitCode.failure);
    assert.match(cancel.json<{ error: { message: string } }>().error.message, /no run with workflow id/);
  });

  test('doctor: what the worker host has and lacks, per endpoint', async () => {
    await load();
    const result = await runCli(['doctor'], env);
    assert.equal(result.code, ExitCode.success, result.stderr);
    assert.match(result.stdout, /^fvp: PowerShell Desktop 5\.1.*server reachable$/m);
    assert.match(result.stdout, /^veeam: PowerShell Core 7.*server reachable$/m);
    assert.match(result.stdout, /module prnxcli loaded/);
    assert.match(result.stdout, /note: this is the fvp-backup lab, a simulator/);
    // Each row of the vendor-facts table, as the lab's host showed it: none contradicted.
    assert.match(result.stdout, /^ {2}fact .+: confirmed \(table: (un)?confirmed\); saw /m);
    assert.doesNotMatch(result.stdout, /CONTRADICTED/);
    // What no probe can read: Veeam's script runner for the hooks (issue 14).
    assert.match(result.stdout, /^note: Veeam script runner, unconfirmed: .*pre-job script timeout/m);

    const json = await runCli(['doctor', '--endpoint', 'veeam', '--json'], env);
    const doc = json.json<{ ok: boolean; reports: { endpoint: string; missing: string[] }[] }>();
    assert.deepEqual(
      doc.reports.map((r) => r.endpoint),
      ['veeam'],
    );
    assert.equal(doc.ok, true);

    const bad = await runCli(['doctor', '--endpoint', 'exchange'], env);
    assert.equal(bad.code, ExitCode.usage);
    assert.match(bad.stderr, /--endpoint\[0\]: Invalid option: expected one of "fvp"\|"veeam"/);
    assert.match(bad.stderr, /Usage: fvpb doctor \[options\]/);
  });

  test('the Web UI lines of the other starts: the guards (by the worker), doctor and guard reconcile (CLI)', async () => {
    await load();
    // The first run of each guard was started by the worker's signalWithStart (runs above did that).
    const firstRuns = new Map<string, { runId: string; startTime: Date }>();
    for await (const info of h.env.client.workflow.list({ query: `WorkflowType = 'vmGuard'` })) {
      const seen = firstRuns.get(info.workflowId);
      if (!seen || info.startTime < seen.startTime) firstRuns.set(info.workflowId, info);
    }
    assert.ok(firstRuns.size > 0, 'the runs above started guards');
    for (const [guardId, { runId }] of firstRuns) {
      const summary = await (await h.env.client.workflow.getHandle(guardId, runId).describe()).staticSummary();
      assert.match(summary ?? '', /^guard of (sql-01|app-01|web-01) on \S+$/, guardId);
    }

    const newest = async (type: string) =>
      waitFor(`a ${type} run to be visible`, async () => {
        for await (const info of h.env.client.workflow.list({ query: `WorkflowType = '${type}'` })) {
          return h.env.client.workflow.getHandle(info.workflowId, info.runId).describe();
        }
        return null;
      });
    const identity = `${userInfo().username}@${hostname()} fvpb-cli`;
    const doctor = await runCli(['doctor', '--endpoint', 'fvp'], env);
    assert.equal(doctor.code, ExitCode.success, doctor.stderr);
    const doctorRun = await newest('doctor');
    assert.equal(await doctorRun.staticSummary(), 'doctor: fvp');
    assert.ok((await doctorRun.staticDetails())?.includes(`\`${identity}\` through \`doctor\``));

    const reconcile = await runCli(['guard', 'reconcile', '--dry-run'], env);
    assert.equal(reconcile.code, ExitCode.success, reconcile.stderr);
    const reconcileRun = await newest('reconcilePolicies');
    assert.equal(await reconcileRun.staticSummary(), 'reconcile VM policies now, dry run');
    assert.ok((await reconcileRun.staticDetails())?.includes(`\`${identity}\` through \`guard reconcile\``));
  });

  test('the npm run cli entry point: bad arguments exit 2 with a short message and the usage', () => {
    const result = spawnSync('npm', ['run', '--silent', 'cli', '--', 'list', '--limit', '0'], {
      cwd: repoRoot,
      env: { ...env },
      encoding: 'utf8',
    });
    assert.equal(result.status, ExitCode.usage, result.stderr);
    assert.match(result.stderr, /^error: --limit: /m);
    assert.match(result.stderr, /^Usage: fvpb list \[options\]$/m);
  });
});
