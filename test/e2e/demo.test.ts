/**
 * `npm run demo`, as README command 1, on ports and a data dir of its own: it starts the dev
 * server with its Web UI, the lab and a worker, runs a protected backup of the sample job with its
 * three VMs, prints the report and the lab's verdicts; --exit makes it exit with the run's code,
 * and without it everything stays up until Ctrl-C (SIGINT to its process group), which stops it all.
 * The second run reuses the first one's SQLite database.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/tools';
import { freePort, listening } from '../helpers/ports';

interface Demo {
  child: ChildProcess;
  output(): string;
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** The exit code of npm, or the signal it died of (npm re-raises a SIGINT it got). */
  exited: Promise<number | string | null>;
  killGroup(signal: NodeJS.Signals): void;
}

function startDemo(args: string[]): Demo {
  // Its own process group, as a terminal's foreground job: Ctrl-C is a SIGINT to the whole group.
  const child = spawn('npm', ['run', 'demo', '--', ...args], {
    cwd: repoRoot,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | string | null>((done) =>
    child.once('exit', (code, signal) => done(code ?? signal)),
  );
  return {
    child,
    output: () => output,
    exited,
    killGroup(signal) {
      try {
        process.kill(-(child.pid as number), signal);
      } catch {
        // the group is gone already
      }
    },
    async waitFor(text, timeoutMs = 120_000) {
      const until = Date.now() + timeoutMs;
      const seen = () => (typeof text === 'string' ? output.includes(text) : text.test(output));
      while (!seen()) {
        if (child.exitCode !== null)
          assert.fail(`the demo exited (${child.exitCode}) before ${String(text)}:\n${output}`);
        if (Date.now() > until) assert.fail(`timed out waiting for ${String(text)}:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

function assertReport(output: string, uiPort: number): void {
  assert.match(
    output,
    new RegExp(
      `in the Web UI: http://localhost:${uiPort}/namespaces/default/workflows/protected-backup%2FNightly-SQL/`,
    ),
  );
  assert.match(output, /\] phase backing-up$/m, 'live progress');
  assert.match(output, /^Run protected-backup\/Nightly-SQL \(run .*\) completed$/m);
  for (const vm of ['sql-01', 'app-01', 'web-01']) {
    assert.match(
      output,
      new RegExp(`^  ${vm} +\\d+\\.\\ds +\\d+\\.\\ds +restored WriteBack, 1 peer`, 'm'),
      `report of ${vm}`,
    );
    assert.match(output, new RegExp(`^  ${vm}: consistent \\(`, 'm'), `verdict of ${vm}`);
  }
}

describe('npm run demo', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fvpb-demo-'));

  test('--exit: a protected backup of the sample job end to end, then everything stops; exit 0', async () => {
    const [port, uiPort] = [await freePort(), await freePort()];
    const demo = startDemo(['--exit', '--port', String(port), '--ui-port', String(uiPort), '--data-dir', dataDir]);
    try {
      await demo.waitFor('Started a protected backup of Nightly-SQL (sql-01, app-01, web-01)');
      const page = await fetch(`http://127.0.0.1:${uiPort}/`);
      assert.equal(page.status, 200, 'the Web UI answers while the run goes on');
      assert.equal(await demo.exited, 0, demo.output());
    } finally {
      demo.killGroup('SIGKILL');
    }
    assertReport(demo.output(), uiPort);
    assert.equal(await listening(port), false, 'the dev server stopped');
    assert.equal(await listening(uiPort), false, 'the Web UI stopped');
  });

  test('without --exit it stays up for the Web UI until Ctrl-C, which stops everything', async () => {
    const [port, uiPort] = [await freePort(), await freePort()];
    const demo = startDemo(['--port', String(port), '--ui-port', String(uiPort), '--data-dir', dataDir]);
    try {
      await demo.waitFor('Ctrl-C stops everything.');
      assertReport(demo.output(), uiPort);
      assert.match(demo.output(), /task queue fvp-protected-backup, workflow type protectedBackup/);
      const api = await fetch(
        `http://127.0.0.1:${uiPort}/api/v1/namespaces/default/workflows?query=WorkflowType%3D%27protectedBackup%27`,
      );
      assert.equal(api.status, 200);
      const body = (await api.json()) as { executions?: unknown[] };
      assert.equal(body.executions?.length, 2, 'both demo runs, kept in the SQLite file of the data dir');
      demo.killGroup('SIGINT');
      assert.ok([0, 'SIGINT'].includes((await demo.exited) as never), demo.output());
      // npm may leave before the demo has finished stopping: wait for the ports to close.
      const until = Date.now() + 30_000;
      while ((await listening(port)) || (await listening(uiPort))) {
        assert.ok(Date.now() < until, `the dev server and its Web UI stopped:\n${demo.output()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      demo.killGroup('SIGKILL');
    }
    assert.match(demo.output(), /Stopping the worker, the lab and the dev server/);
  });
});
