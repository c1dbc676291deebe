/**
 * What operators see of a run without opening it, against the real dev server (no worker: every
 * run here stays open on a task queue nobody polls, so nothing but the start is observed):
 * the static summary and details of every start (CLI, library, schedules, the reconciler's
 * schedule), the search attributes a start sets, the identity the history records for who
 * started, cancelled and terminated a run, and `list --vm / --restore-pending / --job` on those
 * attributes, with names that need quoting.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname, userInfo } from 'node:os';
import type { Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { connect, operatorIdentity, type BackupConnection } from '../../client/connection';
import { ExitCode } from '../../client/exit-codes';
import { WORKFLOW_TYPE } from '../../client/ids';
import { runSummary, startDetails, truncateBytes } from '../../client/metadata';
import { listQuery, startProtectedBackup } from '../../client/runs';
import { syncReconcilerSchedule } from '../../client/guard/reconciler-schedule';
import { createSchedule, parseScheduleEntry, triggerSchedule } from '../../client/schedules/manage';
import {
  devServerSearchAttributeArgs,
  JOB_ATTRIBUTE,
  PHASE_ATTRIBUTE,
  registerSearchAttributes,
  RESTORE_PENDING_ATTRIBUTE,
  VMS_ATTRIBUTE,
  visibilityString,
} from '../../client/search-attributes';
import { uniqueId } from '../helpers/harness';
import { startDevServer, startTimeSkippingServer } from '../helpers/temporal';
import { cliEnv, runCli, waitFor } from './helpers';

const CLI_IDENTITY = `${userInfo().username}@${hostname()} fvpb-cli`;

describe('summaries, details, identity and search attributes', () => {
  let env: TestWorkflowEnvironment;
  let conn: BackupConnection;
  let client: Client;
  /** Nobody polls it: runs stay open and nothing executes. */
  const taskQueue = uniqueId('nobody-polls');
  let cli: NodeJS.ProcessEnv;
  const opened: string[] = [];

  before(async () => {
    env = await startDevServer();
    conn = await connect({ address: env.address, taskQueue, env: {}, identity: 'tester@lab library-test' });
    client = conn.client;
    cli = cliEnv(env.address, taskQueue);
  });
  after(async () => {
    for (const workflowId of opened) {
      await client?.workflow
        .getHandle(workflowId)
        .terminate('test over')
        .catch(() => undefined);
    }
    await conn?.close();
    await env?.teardown();
  });

  async function historyEvents(workflowId: string) {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    return history.events ?? [];
  }

  test('the search attributes are registered on the dev server and the time-skipping server the tests start', async () => {
    const listed = await env.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    assert.deepEqual(
      Object.entries(listed.customAttributes ?? {})
        .filter(([name]) => name.startsWith('Fvpb'))
        .map(([name]) => name)
        .sort(),
      ['FvpbJob', 'FvpbPhase', 'FvpbRestorePending', 'FvpbVms'],
    );
    assert.deepEqual(await registerSearchAttributes(env.connection, 'default'), [], 'idempotent: nothing missing');
    assert.deepEqual(devServerSearchAttributeArgs().slice(0, 2), ['--search-attribute', 'FvpbJob=Keyword']);
    // The time-skipping server lists nothing but refuses an undefined attribute: a start that sets all four.
    const skipping = await startTimeSkippingServer();
    try {
      const all = new TypedSearchAttributes([
        { key: JOB_ATTRIBUTE, value: 'J' },
        { key: VMS_ATTRIBUTE, value: ['a'] },
        { key: PHASE_ATTRIBUTE, value: 'resolving' },
        { key: RESTORE_PENDING_ATTRIBUTE, value: false },
      ]);
      const handle = await skipping.client.workflow.start(WORKFLOW_TYPE, {
        taskQueue,
        workflowId: uniqueId('skipping'),
        typedSearchAttributes: all,
      });
      await handle.terminate('test over');
    } finally {
      await skipping.teardown();
    }
  });

  test('summary and details: the format and its bounds', () => {
    assert.equal(
      runSummary({ job: 'Nightly-SQL', vms: ['a', 'b', 'c'], transportMode: 'directsan' }),
      'Nightly-SQL: 3 VMs, directsan',
    );
    assert.equal(runSummary({ job: 'J', vms: ['a'] }), 'J: 1 VM, auto');
    assert.equal(runSummary({ job: 'J', dryRun: true }), "J: job's VMs, auto, dry run");
    const long = runSummary({ job: 'é'.repeat(500), vms: ['a', 'b'], transportMode: 'nbd' });
    assert.ok(Buffer.byteLength(long) <= 200, 'at most 200 bytes');
    assert.match(long, /^é+…: 2 VMs, nbd$/, 'the job is cut, never the facts after it');
    assert.equal(truncateBytes('😀😀😀', 9), '😀…');

    const details = startDetails({ input: { job: 'J', vms: ['```evil'] }, startedBy: 'a`b@host', via: 'x' });
    assert.match(details, /^\*\*Started by\*\* `` a`b@host `` through x$/m);
    assert.match(details, /^````json\n/m, 'a fence longer than any backtick run inside');
    const huge = startDetails({ input: { vms: Array.from({ length: 5_000 }, (_, i) => `vm-${i}`) }, startedBy: 'me' });
    assert.ok(Buffer.byteLength(huge) <= 20_000, 'at most 20 KB');
  });

  test('a CLI start: summary, details (input, who, through what), search attributes; the history records who started, cancelled and terminated', async () => {
    const job = uniqueId('Nightly-SQL');
    const started = await runCli(
      ['start', '--job', job, '--vm', 'sql-01', '--vm', 'app-01', '--transport-mode', 'directsan', '--json'],
      cli,
    );
    assert.equal(started.code, ExitCode.success, started.stderr);
    const { workflowId } = started.json<{ workflowId: string }>();
    const description = await client.workflow.getHandle(workflowId).describe();
    assert.equal(await description.staticSummary(), `${job}: 2 VMs, directsan`);
    const details = (await description.staticDetails()) ?? '';
    assert.ok(details.includes(`**Started by** \`${CLI_IDENTITY}\` through the CLI (\`start\`)`), details);
    assert.ok(details.includes('"transportMode": "directsan"'), details);
    assert.ok(details.includes('"sql-01"'), details);
    assert.equal(description.typedSearchAttributes.get(JOB_ATTRIBUTE), job);
    assert.deepEqual(description.typedSearchAttributes.get(VMS_ATTRIBUTE), ['sql-01', 'app-01']);

    const cancelled = await runCli(['cancel', workflowId], cli);
    assert.equal(cancelled.code, ExitCode.success, cancelled.stderr);
    await client.workflow.getHandle(workflowId).terminate('test over');
    const events = await historyEvents(workflowId);
    const identityOf = (attribute: string) =>
      events
        .map((e) => (e as Record<string, { identity?: string } | null | undefined>)[attribute]?.identity)
        .find((identity) => identity !== undefined);
    assert.equal(identityOf('workflowExecutionStartedEventAttributes'), CLI_IDENTITY);
    assert.equal(identityOf('workflowExecutionCancelRequestedEventAttributes'), CLI_IDENTITY);
    assert.equal(identityOf('workflowExecutionTerminatedEventAttributes'), 'tester@lab library-test');
    assert.match(operatorIdentity('fvpb-cli'), /^[^@\s]+@\S+ fvpb-cli$/);
  });

  test('a library start: the caller identity and "the client library" in the details', async () => {
    const job = uniqueId('Library-Job');
    const run = await startProtectedBackup(client, { job }, { taskQueue });
    opened.push(run.workflowId);
    const description = await run.handle.describe();
    assert.equal(await description.staticSummary(), `${job}: job's VMs, auto`);
    assert.match(
      (await description.staticDetails()) ?? '',
      /^\*\*Started by\*\* `tester@lab library-test` through the client library$/m,
    );
    assert.equal(description.typedSearchAttributes.get(JOB_ATTRIBUTE), job);
    assert.equal(
      description.typedSearchAttributes.get(VMS_ATTRIBUTE),
      undefined,
      "the job's VMs come from the workflow",
    );
    await run.handle.terminate('test over');
  });

  test('list --vm, --restore-pending, --job: server-side filters on the search attributes, values quoted', async () => {
    const id = uniqueId('list');
    const plainJob = `${id}-Nightly`;
    const otherJob = `${id}-Weekly`;
    const hostileJob = `${id} it's "quoted" \\ back`;
    const vmA = `${id}-sql-01`;
    const vmQuote = `${id}-o'brien`;
    // The dev server's visibility cannot match `\` or `"` with `=`: the client narrows and checks.
    const vmBack = `${id}-back\\slash"q`;
    // One open run per job (a second start of a job is refused while one is open).
    const starts = [
      { workflowId: `${id}/a`, job: plainJob, vms: [vmA] },
      { workflowId: `${id}/b`, job: otherJob, vms: [`${vmA}x`, vmQuote, vmBack] },
      { workflowId: `${id}/c`, job: hostileJob, vms: [vmA] },
    ];
    for (const s of starts) {
      await startProtectedBackup(client, { job: s.job, vms: s.vms }, { taskQueue, workflowId: s.workflowId });
    }
    // What the workflow upserts once it switched a VM (no worker runs here): restore pending.
    const pending = { workflowId: `${id}/d`, job: hostileJob };
    await client.workflow.start(WORKFLOW_TYPE, {
      taskQueue,
      workflowId: pending.workflowId,
      args: [{ job: hostileJob }],
      typedSearchAttributes: new TypedSearchAttributes([
        { key: JOB_ATTRIBUTE, value: hostileJob },
        { key: VMS_ATTRIBUTE, value: [vmQuote] },
        { key: RESTORE_PENDING_ATTRIBUTE, value: true },
      ]),
    });
    opened.push(...starts.map((s) => s.workflowId), pending.workflowId);

    const ids = async (...args: string[]) => {
      const result = await runCli(['list', '--json', ...args], cli);
      assert.equal(result.code, ExitCode.success, result.stderr);
      return result
        .json<{ runs: { workflowId: string }[] }>()
        .runs.map((r) => r.workflowId)
        .sort();
    };
    const expect = async (args: string[], wanted: string[]) =>
      waitFor(`list ${args.join(' ')} to show ${wanted.join(', ')}`, async () => {
        const got = await ids(...args);
        return JSON.stringify(got) === JSON.stringify([...wanted].sort()) ? got : null;
      });

    await expect(['--vm', vmA], [`${id}/a`, `${id}/c`]); // exact match: not `${vmA}x`
    await expect(['--vm', vmQuote], [`${id}/b`, `${id}/d`]);
    await expect(['--vm', vmBack], [`${id}/b`]);
    await expect(['--job', hostileJob], [`${id}/c`, `${id}/d`]);
    await expect(['--job', otherJob, '--vm', vmQuote], [`${id}/b`]);
    await expect(['--restore-pending'], [`${id}/d`]);
    assert.deepEqual(await ids('--job', plainJob, '--vm', vmQuote), []);
    await expect(['--vm', vmA, '--running', '--limit', '1'], [`${id}/c`]);
    // A value is a value: it cannot widen the query.
    assert.deepEqual(await ids('--vm', `x' OR WorkflowType = 'protectedBackup`), []);
    assert.deepEqual(await ids('--job', `${plainJob}\\`), []);
    assert.deepEqual(await ids('--job', hostileJob.slice(0, -1)), []);
    assert.deepEqual(await ids('--vm', vmBack.slice(0, -1)), []);

    const text = await runCli(['list', '--vm', vmQuote], cli);
    assert.match(text.stdout, new RegExp(`${id}/d .*RESTORE PENDING$`, 'm'));
    assert.equal(listQuery({ vm: "a'b" }), `WorkflowType = 'protectedBackup' AND FvpbVms = ${visibilityString("a'b")}`);
    const bad = await runCli(['list', '--vm', ''], cli);
    assert.equal(bad.code, ExitCode.usage);
    assert.match(bad.stderr, /--vm: expected a VM name/);
  });

  test('a schedule: its runs carry the summary, details naming the schedule, and the search attributes', async () => {
    const scheduleId = uniqueId('nightly');
    const job = uniqueId('Scheduled-Job');
    const definition = parseScheduleEntry({
      id: scheduleId,
      job,
      vms: ['sql-01'],
      spec: { cron: '0 3 1 1 *' },
      input: { transportMode: 'nbd' },
    });
    await createSchedule(client, definition, taskQueue);
    const action = (await client.schedule.getHandle(scheduleId).describe()).action;
    assert.equal(action.staticSummary, `${job}: 1 VM, nbd`);
    assert.match(
      action.staticDetails ?? '',
      /^\*\*Started by\*\* `schedule .+` through a schedule created with the CLI$/m,
    );

    const triggered = await triggerSchedule(client, scheduleId);
    assert.ok(triggered.workflowId);
    const description = await client.workflow.getHandle(triggered.workflowId).describe();
    assert.equal(await description.staticSummary(), `${job}: 1 VM, nbd`);
    assert.ok((await description.staticDetails())?.includes(`\`schedule ${scheduleId}\``));
    assert.equal(description.typedSearchAttributes.get(JOB_ATTRIBUTE), job);
    assert.deepEqual(description.typedSearchAttributes.get(VMS_ATTRIBUTE), ['sql-01']);
    await client.schedule.getHandle(scheduleId).delete();
    await client.workflow.getHandle(triggered.workflowId).terminate('test over');
  });

  test("the reconciler's schedule: summary and details naming it and who set it up", async () => {
    const scheduleId = uniqueId('reconcile');
    await syncReconcilerSchedule(client, { taskQueue, every: '15 minutes', paused: true, scheduleId });
    const { action } = await client.schedule.getHandle(scheduleId).describe();
    assert.equal(action.staticSummary, 'reconcile VM policies every 15 minutes');
    assert.match(action.staticDetails ?? '', new RegExp(`Started by\\*\\* \`schedule ${scheduleId}\``));
    assert.match(action.staticDetails ?? '', /set up by tester@lab library-test/);
    await client.schedule.getHandle(scheduleId).delete();
  });
});
