/**
 * The pieces of the CLI that need no server: the progress display (redraw on a TTY, a line per
 * change elsewhere), the report, the exit codes, the job of a workflow id, and argument errors.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { exitCodeFor, ExitCode } from '../../client/exit-codes';
import { jobOf } from '../../client/ids';
import { bar, describeChanges, ProgressDisplay, renderStatus } from '../../client/progress';
import { formatOutcome, formatReport } from '../../client/report';
import type { RunStatus, VmStatus } from '../../workflows/status';
import { runCli } from './helpers';

const t0 = '2025-01-31T22:00:00.000Z';
const at = (s: number) => new Date(Date.parse(t0) + s * 1000).toISOString();

function vm(name: string, extra: Partial<VmStatus> = {}): VmStatus {
  return {
    vm: name,
    source: 'job',
    accelerated: true,
    recorded: { mode: 'WriteBack', peers: 1, externalPeers: null },
    alreadyWriteThrough: false,
    step: 'planned',
    effective: 'WriteBack',
    timeToDestageSeconds: null,
    writeThroughAt: null,
    flushedAt: null,
    restoredAt: null,
    restoreAttempts: 0,
    lastError: null,
    ...extra,
  };
}

function status(extra: Partial<RunStatus> = {}): RunStatus {
  return {
    job: 'Nightly-SQL',
    dryRun: false,
    phase: 'verifying-flush',
    vms: [
      vm('sql-01', { step: 'flushing', writeThroughAt: at(1), timeToDestageSeconds: 1.25 }),
      vm('web-01', { step: 'flushed', writeThroughAt: at(1), flushedAt: at(1.5), effective: 'WriteThrough' }),
      vm('file-01', { step: 'skipped', accelerated: false, recorded: null }),
    ],
    backup: { sessionId: null, state: null, result: null, progress: null, tasks: [] },
    startedAt: t0,
    timings: {},
    endedAt: null,
    warnings: [],
    error: null,
    plan: [],
    ...extra,
  };
}

describe('progress display', () => {
  test('a block: phase and time, one line per VM with its flush progress, the job with a bar', () => {
    const lines = renderStatus(
      status({
        phase: 'backing-up',
        backup: { sessionId: 's-1', state: 'Working', result: 'None', progress: 45, tasks: [] },
      }),
      Date.parse(at(12.34)),
    );
    assert.deepEqual(lines, [
      'Nightly-SQL  phase: backing-up  12.3s',
      '  sql-01   flushing        effective WriteBack, destage 1.3s left',
      '  web-01   flushed         effective WriteThrough, flushed in 0.5s',
      '  file-01  skipped         not accelerated by FVP: left alone',
      '  Veeam    Working         [#########-----------]  45%  session s-1',
    ]);
    assert.equal(bar(1.5), `[${'#'.repeat(20)}] 100%`);
  });

  test('not a TTY: one timestamped line per change, nothing when nothing changed', () => {
    let out = '';
    const display = new ProgressDisplay({ write: (t: string) => (out += t), isTTY: false });
    const first = status();
    display.update(first);
    display.update(first);
    const lines = out.trim().split('\n');
    assert.equal(lines.length, 4, out);
    assert.match(lines[0] ?? '', /^\[\d\d:\d\d:\d\d\] phase verifying-flush$/);
    assert.match(lines[1] ?? '', /\] sql-01: flushing \(effective WriteBack, destage 1\.3s left\)$/);
    const next = status({
      phase: 'backing-up',
      backup: { sessionId: 's-1', state: 'Working', result: 'None', progress: 10, tasks: [] },
    });
    assert.deepEqual(describeChanges(first, next), ['phase backing-up', 'Veeam session s-1', 'Veeam Working 10%']);
    const done = status({
      phase: 'completed',
      warnings: ['Veeam reported result Warning'],
      backup: { ...next.backup, state: 'Stopped', result: 'Warning', progress: 100 },
    });
    assert.deepEqual(describeChanges(next, done), [
      'phase completed',
      'Veeam Stopped 100%',
      'Veeam result Warning',
      'warning: Veeam reported result Warning',
    ]);
  });

  test('a TTY: the block is redrawn in place, cut to the terminal width', () => {
    let out = '';
    const display = new ProgressDisplay({ write: (t: string) => (out += t), isTTY: true, columns: 40 });
    display.update(status());
    assert.ok(!out.includes('\x1b[4F'), 'nothing to move over the first time');
    const first = out;
    out = '';
    display.update(status({ phase: 'backing-up' }));
    assert.ok(out.startsWith('\x1b[4F'), 'moves up over the 4 lines drawn before');
    assert.equal(out.split('\x1b[2K').length - 1, 4, 'clears and rewrites each line');
    const escapes = new RegExp(`${String.fromCharCode(27)}\\[\\d*[A-Za-z]`, 'g');
    for (const line of (first + out).split('\n')) assert.ok(line.replace(escapes, '').length <= 39, line);
  });

  test('the report: write-through window, flush time and restore per VM; the session and result', () => {
    const report = status({
      phase: 'completed',
      endedAt: at(10),
      vms: [
        vm('sql-01', { step: 'restored', writeThroughAt: at(1), flushedAt: at(1.5), restoredAt: at(9) }),
        vm('tmp-01', {
          step: 'flushed',
          alreadyWriteThrough: true,
          recorded: { mode: 'WriteThrough', peers: 0, externalPeers: null },
        }),
      ],
      backup: {
        sessionId: 's-1',
        state: 'Stopped',
        result: 'Success',
        progress: 100,
        tasks: [{ vm: 'sql-01', status: 'Success', result: 'Success' }],
      },
    });
    assert.deepEqual(formatReport(report), [
      'Report for job "Nightly-SQL"',
      `  phase completed, started ${t0}, ended ${at(10)} (10.0s)`,
      '  VM      write-through  flush    restore',
      '  sql-01  8.0s           0.5s     restored WriteBack, 1 peer(s)',
      '  tmp-01  -              -        was write-through, left alone',
      '  Veeam session s-1: Stopped, result Success (sql-01 Success)',
    ]);
    const failed = formatOutcome({
      kind: 'failed',
      workflowId: 'w',
      runId: 'r',
      report: null,
      message: 'VM "x" never flushed',
      failureType: 'FlushTimeout',
    });
    assert.deepEqual(failed, ['Run w (run r) FAILED: FlushTimeout: VM "x" never flushed']);
  });

  test('exit codes and the job of a workflow id', () => {
    assert.deepEqual(
      (['success', 'warning', 'failed', 'cancelled', 'terminated', 'timed-out'] as const).map(exitCodeFor),
      [0, 4, 1, 3, 1, 1],
    );
    assert.equal(jobOf('protected-backup/Nightly-SQL', undefined), 'Nightly-SQL');
    assert.equal(jobOf('protected-backup/Nightly-SQL-2025-01-31T22:30:00Z', undefined), 'Nightly-SQL');
    assert.equal(jobOf('anything', { job: 'From-Memo' }), 'From-Memo');
    assert.equal(jobOf('my-own-id', undefined), null);
  });

  test('bad arguments exit 2 with the message and the usage, before any connection', async () => {
    // Port 1 on localhost: a command that tried to connect would fail with exit 1, not 2.
    const env = { TEMPORAL_ADDRESS: '127.0.0.1:1', HOME: '/nonexistent' };
    const cases: [string[], RegExp, RegExp][] = [
      [['list', '--limit', 'many'], /--limit: /, /Usage: fvpb list \[options\]/],
      [['run'], /--job: expected the name of a Veeam job/, /Usage: fvpb run \[options\]/],
      [['run', '--job', 'J', '--transport-mode', 'fibre'], /argument 'fibre' is invalid/, /Usage: fvpb run/],
      [['start', '--job', 'J', '--address', 'no-port'], /--address: expected host:port/, /Usage: fvpb start/],
      [['status'], /<workflow-id>: expected a workflow id or --job/, /Usage: fvpb status \[options\] \[workflow-id\]/],
      [['status', 'a', '--job', 'b'], /<workflow-id>: /, /Usage: fvpb status/],
      [['schedule', 'sync'], /required option '--file <path>' not specified/, /Usage: fvpb schedule sync/],
      [['schedule', 'pause'], /missing required argument 'schedule-id'/, /Usage: fvpb schedule pause/],
      [['frobnicate'], /unknown command 'frobnicate'/, /Usage: fvpb \[options\] \[command\]/],
      [['list', '--bogus'], /unknown option '--bogus'/, /Usage: fvpb list/],
    ];
    for (const [args, message, usage] of cases) {
      const result = await runCli(args, env);
      assert.equal(result.code, ExitCode.usage, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message, args.join(' '));
      assert.match(result.stderr, usage, args.join(' '));
      assert.ok(result.stderr.split('\n').length < 8, `short: ${result.stderr}`);
    }
    const invalid = await runCli(['start', '--job', 'J', '--vm', '', '--json'], env);
    assert.equal(invalid.code, ExitCode.usage);
    assert.match(invalid.json<{ error: { message: string } }>().error.message, /--vm\[0\]: expected a VM name/);
    const schedule = await runCli(
      ['schedule', 'create', '--id', 'x', '--job', 'J', '--cron', '0 1 * * *', '--overlap', 'ALLOW_ALL'],
      env,
    );
    assert.equal(schedule.code, ExitCode.usage, schedule.stderr);
    assert.match(schedule.stderr, /^error: invalid schedule: overlap: ALLOW_ALL is refused: it would run two backups/);
    const help = await runCli(['run', '--help'], env);
    assert.equal(help.code, ExitCode.success);
    assert.match(help.stdout, /--transport-mode <mode>/);
  });
});
