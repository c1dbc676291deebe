/**
 * The lab's Veeam scheduler (lab/scheduler.ts) on its own: the pre-job script gates the session,
 * a session that does not succeed is retried as "<job> (Retry N)", the post-job script runs once,
 * after the last one; and the lab refuses a second live session of a job, as Veeam does.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabApiError } from '../../lab/client';
import { startLab, type RunningLab } from '../../lab/launch';
import { runScheduledJob, type ScriptCommand } from '../../lab/scheduler';
import { JOB, scenario } from '../helpers/scenarios';

/** A script that appends its name to a file and exits with `code`. */
function script(log: string, name: string, code = 0): ScriptCommand {
  const body = `require('node:fs').appendFileSync(${JSON.stringify(log)}, ${JSON.stringify(name + '\n')}); process.exit(${code})`;
  return { command: process.execPath, args: ['-e', body] };
}

describe("the lab's Veeam scheduler", () => {
  let lab: RunningLab;
  const dir = mkdtempSync(join(tmpdir(), 'fvpb-scheduler-'));

  before(async () => {
    lab = await startLab({ stateFile: join(dir, 'lab-state.json') });
  });
  after(async () => lab?.stop());

  async function fresh() {
    await lab.client.loadScenario(scenario({ taskMs: 50, startDelayMs: 20 }));
    return join(dir, `scripts-${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
  }

  test('a failing pre-job script: no session, the post-job script still runs', async () => {
    const log = await fresh();
    const report = await runScheduledJob({
      lab: lab.client,
      job: JOB,
      preJob: script(log, 'pre', 1),
      postJob: script(log, 'post'),
      retries: 3,
    });
    assert.equal(report.preJob[0]?.exitCode, 1);
    assert.deepEqual(report.sessions, []);
    assert.match(String(report.stopped), /pre-job script failed/);
    assert.equal((await lab.client.state()).veeam.sessions.length, 0);
    assert.equal(report.postJob?.exitCode, 0);
  });

  test('failed sessions are retried as "(Retry N)" sessions; the post-job script runs once, after the last', async () => {
    const log = await fresh();
    const report = await runScheduledJob({
      lab: lab.client,
      job: JOB,
      preJob: script(log, 'pre'),
      postJob: script(log, 'post'),
      retries: 3,
      retryWaitMs: 50,
      outcomes: ['Failed', 'Failed', 'Success', 'Success'],
    });
    assert.deepEqual(
      report.sessions.map((s) => [s.name, s.result]),
      [
        [JOB, 'Failed'],
        [`${JOB} (Retry 1)`, 'Failed'],
        [`${JOB} (Retry 2)`, 'Success'],
      ],
    );
    const sessions = (await lab.client.state()).veeam.sessions;
    assert.deepEqual(
      sessions.map((s) => s.retryBackup),
      [false, true, true],
    );
    for (const [i, s] of report.sessions.entries()) {
      if (i > 0)
        assert.ok(s.createdAt >= report.sessions[i - 1]!.endedAt, 'a retry starts after the session before it');
    }
    assert.ok(report.postJob!.startedAt >= report.sessions[2]!.endedAt, 'post-job after the last session');
    assert.deepEqual(
      readFileSync(log, 'utf8').trim().split('\n'),
      ['pre', 'post'],
      'pre-job once (by default), post-job once',
    );
  });

  test('the pre-job script before each retry (an unconfirmed Veeam behaviour, as a knob)', async () => {
    const log = await fresh();
    const report = await runScheduledJob({
      lab: lab.client,
      job: JOB,
      preJob: script(log, 'pre'),
      postJob: null,
      retries: 1,
      retryWaitMs: 10,
      outcomes: ['Failed', 'Success'],
      preJobBeforeEachRetry: true,
    });
    assert.equal(report.preJob.length, 2);
    assert.equal(report.sessions.length, 2);
    assert.equal(report.postJob, null, 'no post-job script: a hook that never comes');
  });

  test('a pre-job script that outlives the script timeout is killed and counts as failed', async () => {
    await fresh();
    const report = await runScheduledJob({
      lab: lab.client,
      job: JOB,
      preJob: { command: process.execPath, args: ['-e', 'setTimeout(() => {}, 60_000)'] },
      scriptTimeoutMs: 300,
    });
    assert.equal(report.preJob[0]?.timedOut, true);
    assert.equal(report.sessions.length, 0);
  });

  test('one live session per job: a second scheduled start is refused, naming the session', async () => {
    await lab.client.loadScenario(scenario({ taskMs: 2_000 }));
    const first = await lab.client.startScheduledSession(JOB);
    await assert.rejects(lab.client.startScheduledSession(JOB), (err: unknown) => {
      assert.ok(err instanceof LabApiError);
      assert.match(err.message, new RegExp(`already has a live session \\(${first.id}\\)`));
      return true;
    });
    await assert.rejects(lab.client.startScheduledSession('No-Such-Job'), /unknown Veeam job "No-Such-Job"/);
  });
});
