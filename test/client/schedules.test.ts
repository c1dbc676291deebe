/**
 * Schedules as code and the schedule commands against the real dev server: sync creates, updates
 * and deletes what the file owns and prints the difference; a second sync changes nothing; dry-run
 * only prints; schedules it does not own are never touched; an invalid file names line and field.
 * A triggered schedule runs a protected backup to the end (real worker process, lab verdicts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScheduleNotFoundError } from '@temporalio/client';
import { RunAlreadyActiveError } from '../../client/errors';
import { ExitCode } from '../../client/exit-codes';
import { startProtectedBackup, waitForOutcome } from '../../client/runs';
import { fastFlush, fastTimeouts, fastVeeam, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertConsistentSessions, assertPoliciesAre, requestedPolicies } from '../helpers/lab-assertions';
import { JOB, scenario, vmNames } from '../helpers/scenarios';
import { cliEnv, runCli, waitFor } from './helpers';

/** Never fires during a test run by itself (03:00 on 1 January). */
const NEVER_SOON = '0 3 1 1 *';

const fastInput = `      flush: ${JSON.stringify(fastFlush)}
      veeam: ${JSON.stringify(fastVeeam)}
      timeouts: ${JSON.stringify(fastTimeouts)}`;

describe('schedules', () => {
  let h: Harness;
  let env: NodeJS.ProcessEnv;
  const taskQueue = uniqueId('schedules');
  const owner = uniqueId('owner').replace(/[^A-Za-z0-9._-]/g, '-');

  before(async () => {
    h = await startHarness(scenario());
    await h.startWorker(taskQueue);
    env = cliEnv(h.env.address, taskQueue);
  });
  after(async () => h?.stop());

  function file(name: string, text: string): string {
    const path = join(h.dir, name);
    writeFileSync(path, text);
    return path;
  }

  async function describeSchedule(id: string) {
    return h.env.client.schedule.getHandle(id).describe();
  }

  async function exists(id: string): Promise<boolean> {
    return describeSchedule(id).then(
      () => true,
      (err: unknown) => {
        if (err instanceof ScheduleNotFoundError) return false;
        throw err;
      },
    );
  }

  test('sync: create, nothing on the second run, update with the difference, dry-run, delete', async () => {
    const v1 = file(
      'v1.yaml',
      `owner: ${owner}
schedules:
  - id: ${owner}-nightly
    job: Nightly-SQL
    spec: { cron: '30 22 * * *' }
    timezone: Europe/Berlin
    jitter: 5 minutes
  - id: ${owner}-weekly
    job: Weekly-Full
    vms: [sql-01]
    spec:
      calendar: { hour: 2, dayOfWeek: SAT }
    overlap: BUFFER_ONE
    input:
      veeam: { fullBackup: true }
`,
    );
    const created = await runCli(['schedule', 'sync', '--file', v1], env);
    assert.equal(created.code, ExitCode.success, created.stderr);
    assert.match(created.stdout, new RegExp(`^\\+ create +${owner}-nightly \\(job Nightly-SQL\\)$`, 'm'));
    assert.match(created.stdout, new RegExp(`^\\+ create +${owner}-weekly \\(job Weekly-Full\\)$`, 'm'));
    assert.match(created.stdout, /^created 2, updated 0, deleted 0; 0 unchanged$/m);

    const nightly = await describeSchedule(`${owner}-nightly`);
    assert.equal(nightly.spec.timezone, 'Europe/Berlin');
    assert.equal(nightly.spec.jitter, 5 * 60_000);
    assert.equal(nightly.policies.overlap, 'SKIP');
    assert.equal(nightly.action.taskQueue, taskQueue);
    assert.equal(nightly.action.workflowType, 'protectedBackup');
    assert.equal(nightly.action.workflowId, 'protected-backup/Nightly-SQL');
    assert.deepEqual(nightly.action.args, [{ job: 'Nightly-SQL' }]);
    assert.equal(nightly.memo?.fvpbOwner, owner);
    const next = nightly.info.nextActionTimes[0];
    assert.ok(next, 'a next action time');
    const berlin = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' });
    const local = berlin.format(next); // the next action time includes its jitter
    assert.ok(local >= '22:30' && local <= '22:35', `next action at 22:30 Berlin (+ jitter), got ${local}`);
    const weekly = await describeSchedule(`${owner}-weekly`);
    assert.equal(weekly.policies.overlap, 'BUFFER_ONE');
    assert.deepEqual(weekly.action.args, [{ veeam: { fullBackup: true }, job: 'Weekly-Full', vms: ['sql-01'] }]);
    assert.equal(weekly.info.nextActionTimes[0]?.getUTCDay(), 6, 'on a Saturday');

    const again = await runCli(['schedule', 'sync', '--file', v1, '--json'], env);
    assert.equal(again.code, ExitCode.success, again.stderr);
    const doc = again.json<{ changes: { action: string }[] }>();
    assert.deepEqual(
      doc.changes.map((c) => c.action),
      ['unchanged', 'unchanged'],
      'a second sync changes nothing',
    );

    const v2 = file(
      'v2.yaml',
      `owner: ${owner}
schedules:
  - id: ${owner}-nightly
    job: Nightly-SQL
    spec: { cron: '0 23 * * *' }
    timezone: Europe/Berlin
    jitter: 5 minutes
    paused: true
`,
    );
    const dry = await runCli(['schedule', 'sync', '--file', v2, '--dry-run'], env);
    assert.equal(dry.code, ExitCode.success, dry.stderr);
    assert.match(dry.stdout, new RegExp(`^~ update +${owner}-nightly`, 'm'));
    assert.match(dry.stdout, /^ {4}spec: \{"cron":\["30 22 \* \* \*"\]\} -> \{"cron":\["0 23 \* \* \*"\]\}$/m);
    assert.match(dry.stdout, /^ {4}paused: false -> true$/m);
    assert.match(dry.stdout, new RegExp(`^- delete +${owner}-weekly \\(job Weekly-Full\\)$`, 'm'));
    assert.match(dry.stdout, /^dry run, nothing changed: would create 0, update 1, delete 1; 0 unchanged$/m);
    assert.equal((await describeSchedule(`${owner}-nightly`)).state.paused, false, 'dry run changed nothing');
    assert.ok(await exists(`${owner}-weekly`), 'dry run deleted nothing');

    const applied = await runCli(['schedule', 'sync', '--file', v2], env);
    assert.equal(applied.code, ExitCode.success, applied.stderr);
    assert.match(applied.stdout, /^created 0, updated 1, deleted 1; 0 unchanged$/m);
    const updated = await describeSchedule(`${owner}-nightly`);
    assert.equal(updated.state.paused, true);
    assert.equal(updated.spec.calendars?.[0]?.hour[0]?.start, 23);
    assert.equal(await exists(`${owner}-weekly`), false);

    const third = await runCli(['schedule', 'sync', '--file', v2, '--json'], env);
    assert.deepEqual(
      third.json<{ changes: { action: string }[] }>().changes.map((c) => c.action),
      ['unchanged'],
    );
  });

  test('sync never touches schedules it does not own', async () => {
    const prefix = uniqueId('foreign').replace(/[^A-Za-z0-9._-]/g, '-');
    // A schedule made by hand (no memo), one made with `schedule create`, and one of another file owner.
    await h.env.client.schedule.create({
      scheduleId: `${prefix}-by-hand`,
      spec: { cronExpressions: [NEVER_SOON] },
      action: { type: 'startWorkflow', workflowType: 'protectedBackup', taskQueue, args: [{ job: JOB }] },
      state: { paused: true },
    });
    const cli = await runCli(
      ['schedule', 'create', '--id', `${prefix}-cli`, '--job', JOB, '--cron', NEVER_SOON, '--paused'],
      env,
    );
    assert.equal(cli.code, ExitCode.success, cli.stderr);
    const other = file(
      'other.yaml',
      `owner: ${prefix}-other\nschedules:\n  - { id: ${prefix}-other, job: ${JOB}, spec: { cron: '${NEVER_SOON}' }, paused: true }\n`,
    );
    assert.equal((await runCli(['schedule', 'sync', '--file', other], env)).code, ExitCode.success);

    // A file of our owner with no schedules: deletes only its own (none of those three).
    const empty = file('empty.yaml', `owner: ${prefix}\nschedules: []\n`);
    const synced = await runCli(['schedule', 'sync', '--file', empty, '--json'], env);
    assert.equal(synced.code, ExitCode.success, synced.stderr);
    assert.deepEqual(synced.json<{ changes: unknown[] }>().changes, []);

    // A file that declares an id that exists and is not its own: refused, nothing changed.
    const clash = file(
      'clash.yaml',
      `owner: ${prefix}\nschedules:\n  - { id: ${prefix}-new, job: ${JOB}, spec: { cron: '${NEVER_SOON}' } }\n  - { id: ${prefix}-by-hand, job: ${JOB}, spec: { cron: '0 1 * * *' } }\n`,
    );
    const refused = await runCli(['schedule', 'sync', '--file', clash], env);
    assert.equal(refused.code, ExitCode.failure);
    assert.match(refused.stderr, new RegExp(`${prefix}-by-hand \\(unmanaged\\); nothing was changed`));
    assert.equal(await exists(`${prefix}-new`), false, 'not even the new one was created');
    for (const id of ['by-hand', 'cli', 'other']) assert.ok(await exists(`${prefix}-${id}`), `${id} still there`);
    assert.deepEqual((await describeSchedule(`${prefix}-by-hand`)).spec.calendars?.[0]?.hour, [
      { start: 3, end: 3, step: 1 },
    ]);

    const listed = await runCli(['schedule', 'list', '--json'], env);
    const rows = listed.json<{ schedules: { id: string; managedBy: string }[] }>().schedules;
    const mine = Object.fromEntries(rows.filter((r) => r.id.startsWith(prefix)).map((r) => [r.id, r.managedBy]));
    assert.deepEqual(mine, {
      [`${prefix}-by-hand`]: 'unmanaged',
      [`${prefix}-cli`]: 'cli',
      [`${prefix}-other`]: `file (owner ${prefix}-other)`,
    });
  });

  test('an invalid file is rejected naming line and field, and nothing changes', async () => {
    const id = uniqueId('invalid').replace(/[^A-Za-z0-9._-]/g, '-');
    const bad = file(
      'schedules.yaml',
      `schedules:
  - id: ${id}-ok
    job: Nightly-SQL
    spec: { cron: '0 22 * * *' }
  - id: ${id}-bad
    job: Nightly-SQL
    spec:
      cron: '0 25 * * *'
    overlap: TERMINATE_OTHER
    input:
      flush:
        deadline: soon
  - id: ${id}-all
    job: Nightly-SQL
    spec: { cron: '0 1 * * *' }
    overlap: ALLOW_ALL
`,
    );
    const result = await runCli(['schedule', 'sync', '--file', bad], env);
    assert.equal(result.code, ExitCode.usage);
    assert.match(result.stderr, /schedules\.yaml:8 schedules\[1\]\.spec\.cron: hour: 25 is out of range 0-23/);
    assert.match(
      result.stderr,
      /schedules\.yaml:9 schedules\[1\]\.overlap: TERMINATE_OTHER is refused: terminating a run skips its restore/,
    );
    assert.match(
      result.stderr,
      /schedules\.yaml:12 schedules\[1\]\.input\.flush\.deadline: expected a positive duration/,
    );
    assert.match(
      result.stderr,
      /schedules\.yaml:16 schedules\[2\]\.overlap: ALLOW_ALL is refused: it would run two backups of one job at once/,
    );
    assert.equal(await exists(`${id}-ok`), false, 'nothing was created');
  });

  test('a triggered schedule runs a protected backup to the end; a manual start meanwhile is refused', async () => {
    const s = scenario({ taskMs: 1_000 });
    await h.lab.client.loadScenario(s);
    const policies = await requestedPolicies(h.lab);
    const id = uniqueId('trigger').replace(/[^A-Za-z0-9._-]/g, '-');
    const f = file(
      'trigger.yaml',
      `owner: ${id}
taskQueue: ${taskQueue}
schedules:
  - id: ${id}
    job: ${JOB}
    spec: { cron: '${NEVER_SOON}' }
    paused: true
    input:
${fastInput}
`,
    );
    assert.equal((await runCli(['schedule', 'sync', '--file', f], env)).code, ExitCode.success);
    const triggered = await runCli(['schedule', 'trigger', id], env);
    assert.equal(triggered.code, ExitCode.success, triggered.stderr);
    assert.match(triggered.stderr, /managed by a schedule file/);

    const workflowId = await waitFor('the scheduled run', async () => {
      const { info } = await describeSchedule(id);
      return info.recentActions[0]?.action.workflow.workflowId;
    });
    assert.match(workflowId, /^protected-backup\/Nightly-SQL-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    // The scheduled run has another id; a manual start of the same job is refused while it is open.
    await waitFor(
      'the run to be visible',
      async () => {
        const result = await startProtectedBackup(h.env.client, { job: JOB, dryRun: true }, { taskQueue }).then(
          async (started) => {
            await waitForOutcome(started.handle);
            return null;
          },
          (err: unknown) => err,
        );
        return result instanceof RunAlreadyActiveError ? result : null;
      },
      5_000,
    ).then((err) => assert.equal(err.workflowId, workflowId));

    const outcome = await waitForOutcome(h.env.client.workflow.getHandle(workflowId));
    assert.equal(outcome.kind, 'success', outcome.message ?? '');
    assert.equal(outcome.report?.phase, 'completed');
    await assertConsistentSessions(h.lab, JOB, 1, vmNames(s));
    await assertPoliciesAre(h.lab, policies);

    const status = await runCli(['status', workflowId, '--json'], env);
    assert.equal(status.json<{ job: string }>().job, JOB);
  });

  test("schedule pause, unpause, delete; other workflows' schedules are refused", async () => {
    const id = uniqueId('manage').replace(/[^A-Za-z0-9._-]/g, '-');
    const created = await runCli(
      [
        'schedule',
        'create',
        '--id',
        id,
        '--job',
        JOB,
        '--cron',
        '15 4 * * *',
        '--timezone',
        'UTC',
        '--overlap',
        'CANCEL_OTHER',
      ],
      env,
    );
    assert.equal(created.code, ExitCode.success, created.stderr);
    assert.equal((await describeSchedule(id)).policies.overlap, 'CANCEL_OTHER');

    assert.equal((await runCli(['schedule', 'pause', id, '--note', 'maintenance'], env)).code, ExitCode.success);
    const paused = await describeSchedule(id);
    assert.equal(paused.state.paused, true);
    assert.equal(paused.state.note, 'maintenance');
    assert.equal((await runCli(['schedule', 'unpause', id], env)).code, ExitCode.success);
    assert.equal((await describeSchedule(id)).state.paused, false);
    const deleted = await runCli(['schedule', 'delete', id, '--json'], env);
    assert.equal(deleted.code, ExitCode.success);
    assert.equal(await exists(id), false);

    const refusedOverlap = await runCli(
      ['schedule', 'create', '--id', `${id}-t`, '--job', JOB, '--cron', '0 1 * * *', '--overlap', 'TERMINATE_OTHER'],
      env,
    );
    assert.equal(refusedOverlap.code, ExitCode.usage);
    assert.match(refusedOverlap.stderr, /overlap: TERMINATE_OTHER is refused/);
    assert.equal(await exists(`${id}-t`), false);

    await h.env.client.schedule.create({
      scheduleId: `${id}-other`,
      spec: { cronExpressions: [NEVER_SOON] },
      action: { type: 'startWorkflow', workflowType: 'somethingElse', taskQueue, args: [] },
    });
    const refused = await runCli(['schedule', 'delete', `${id}-other`], env);
    assert.equal(refused.code, ExitCode.failure);
    assert.match(refused.stderr, /starts somethingElse, not protectedBackup: left alone/);
    assert.ok(await exists(`${id}-other`));
    const missing = await runCli(['schedule', 'pause', `${id}-missing`], env);
    assert.equal(missing.code, ExitCode.failure);
    assert.match(missing.stderr, /no schedule with id/);
  });
});
