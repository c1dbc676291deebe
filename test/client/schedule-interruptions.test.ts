/**
 * Schedule commands that used to end quietly when something got in their way, against the real
 * dev server: a trigger that the overlap policy drops says so and exits 5 (SKIP, and BUFFER_ONE
 * with its buffer full), one that BUFFER_ONE holds says what it waits for; a sync whose server
 * goes away part-way says so, says what it applied, and the same sync run again finishes the job.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { SyncInterruptedError } from '../../client/errors';
import { ExitCode } from '../../client/exit-codes';
import { readScheduleFile } from '../../client/schedules/manage';
import { syncSchedules } from '../../client/schedules/sync';
import { uniqueId } from '../helpers/harness';
import { freePort } from '../helpers/ports';
import { startDevServer } from '../helpers/temporal';
import { cliEnv, runCli } from './helpers';

/** Never fires during a test run by itself (03:00 on 1 January). */
const NEVER_SOON = '0 3 1 1 *';

describe('schedule trigger and an interrupted sync', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fvpb-schedule-interruptions-'));
  let env: TestWorkflowEnvironment;

  before(async () => {
    env = await startDevServer();
  });
  after(async () => env?.teardown());

  test('a trigger that starts a run names it; one that SKIP drops exits 5 and says why', async () => {
    // No worker polls this queue: the first run stays open, so the second trigger overlaps it.
    const cli = cliEnv(env.address, uniqueId('nobody'));
    const id = uniqueId('trigger').replace(/[^A-Za-z0-9._-]/g, '-');
    const created = await runCli(
      ['schedule', 'create', '--id', id, '--job', 'J', '--cron', NEVER_SOON, '--paused'],
      cli,
    );
    assert.equal(created.code, ExitCode.success, created.stderr);

    const first = await runCli(['schedule', 'trigger', id, '--json'], cli);
    assert.equal(first.code, ExitCode.success, first.stderr);
    const { started } = first.json<{ started: string }>();
    assert.match(started, /^protected-backup\/J-\d{4}-\d\d-\d\dT/);

    const second = await runCli(['schedule', 'trigger', id], cli);
    assert.equal(second.code, ExitCode.alreadyRunning, second.stderr);
    assert.equal(
      second.stderr,
      `error: schedule ${id}: the trigger was dropped by its overlap policy SKIP (still open: ${started}): ` +
        'nothing was started. Wait for the open run to end, or cancel it, then trigger again\n',
    );
    const { info } = await env.client.schedule.getHandle(id).describe();
    assert.equal(info.numActionsTaken, 1, 'still one run');
    // The run never reached a worker: nothing of it to clean up but the execution.
    await env.client.workflow.getHandle(started).terminate('test cleanup: never ran');
  });

  test('BUFFER_ONE: a trigger behind an open run waits and says for what; one more is dropped (exit 5)', async () => {
    const cli = cliEnv(env.address, uniqueId('nobody'));
    const id = uniqueId('buffer').replace(/[^A-Za-z0-9._-]/g, '-');
    const create = ['schedule', 'create', '--id', id, '--job', 'J', '--cron', NEVER_SOON, '--overlap', 'BUFFER_ONE'];
    assert.equal((await runCli([...create, '--paused'], cli)).code, ExitCode.success);
    const { started } = (await runCli(['schedule', 'trigger', id, '--json'], cli)).json<{ started: string }>();
    assert.ok(started, 'the first trigger starts a run');

    const buffered = await runCli(['schedule', 'trigger', id], cli);
    assert.equal(buffered.code, ExitCode.success, buffered.stderr);
    assert.match(
      buffered.stdout,
      new RegExp(`^  buffered \\(overlap policy BUFFER_ONE\\): starts when ${started} closes$`, 'm'),
    );

    const dropped = await runCli(['schedule', 'trigger', id, '--json'], cli);
    assert.equal(dropped.code, ExitCode.alreadyRunning, dropped.stderr);
    assert.match(
      dropped.json<{ error: { message: string } }>().error.message,
      /the trigger was dropped by its overlap policy BUFFER_ONE \(still open: .*\): nothing was started/,
    );
  });

  test('a sync whose server goes away part-way says so; running it again finishes the job', async () => {
    const port = await freePort();
    const dbFilename = join(dir, 'temporal.db');
    let server = await startDevServer({ dbFilename, port });
    const owner = uniqueId('interrupted').replace(/[^A-Za-z0-9._-]/g, '-');
    const file = join(dir, 'schedules.yaml');
    writeFileSync(
      file,
      `owner: ${owner}\nschedules:\n${['a', 'b', 'c']
        .map((s) => `  - { id: ${owner}-${s}, job: ${s}, spec: { cron: '${NEVER_SOON}' }, paused: true }`)
        .join('\n')}\n`,
    );

    // The server goes away just before the second create. No retry interceptor: fail at once.
    let creates = 0;
    const connection = await Connection.connect({ address: server.address, interceptors: [] });
    const client = new Client({
      connection,
      interceptors: {
        schedule: [
          {
            async create(input, next) {
              creates += 1;
              if (creates === 2) await server.teardown();
              return next(input);
            },
          },
        ],
      },
    });
    try {
      const err = await syncSchedules(client, readScheduleFile(file), { taskQueue: 'q' }).then(
        () => assert.fail('the sync went through'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof SyncInterruptedError, String(err));
      assert.match(err.message, /^the Temporal server went away during the sync \(/);
      assert.match(
        err.message,
        new RegExp(
          `applied 1 of 3 changes \\(create ${owner}-a\\), not applied: create ${owner}-b, create ${owner}-c\\. ` +
            'Run the same `schedule sync` again once the server is back: it plans again from what the server has and finishes the job$',
        ),
      );
      assert.deepEqual(err.applied, [`create ${owner}-a`]);
    } finally {
      await connection.close();
    }

    server = await startDevServer({ dbFilename, port });
    try {
      const again = await runCli(['schedule', 'sync', '--file', file], cliEnv(server.address, 'q'));
      assert.equal(again.code, ExitCode.success, again.stderr);
      assert.match(again.stdout, new RegExp(`^= unchanged +${owner}-a`, 'm'));
      assert.match(again.stdout, /^created 2, updated 0, deleted 0; 1 unchanged$/m);
    } finally {
      await server.teardown();
    }
  });
});
