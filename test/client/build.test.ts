/**
 * The shipped build, as an operator installs it: `npm run build` compiles to dist/, the `fvpb` bin
 * (dist/client/cli.js) starts without loading the Temporal client for `--help`, and the compiled
 * worker, started the way the Windows service starts it (node dist/worker/main.js with the
 * pre-built workflow bundle), runs a protected backup that the compiled CLI starts and follows,
 * against the real dev server and the lab.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode } from '../../client/exit-codes';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertConsistentSessions, assertPoliciesAre, requestedPolicies } from '../helpers/lab-assertions';
import { JOB, scenario, vmNames } from '../helpers/scenarios';
import { repoRoot } from '../helpers/tools';
import { workerEnv } from '../helpers/worker-process';
import { cliEnv } from './helpers';

const dist = join(repoRoot, 'dist');
const bin = join(dist, 'client', 'cli.js');

describe('the build', () => {
  let h: Harness;
  let worker: ChildProcess;
  let workerLog = '';
  let env: NodeJS.ProcessEnv;
  const taskQueue = uniqueId('build');

  before(async () => {
    const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(build.status, 0, `npm run build failed:\n${build.stdout}\n${build.stderr}`);
    h = await startHarness(scenario());
    env = cliEnv(h.env.address, taskQueue);
    // As the service runs it (README "The worker as a Windows service"): compiled code, pre-built bundle.
    worker = spawn(process.execPath, ['--enable-source-maps', join(dist, 'worker', 'main.js')], {
      cwd: repoRoot,
      env: workerEnv({
        temporalAddress: h.env.address,
        taskQueue,
        labUrl: h.lab.url,
        workflowBundle: join(dist, 'workflow-bundle.js'),
      }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      worker.stderr?.on('data', (chunk: Buffer) => {
        workerLog += chunk.toString();
        if (workerLog.includes('"msg":"worker started"')) resolve();
      });
      worker.once('exit', (code) => reject(new Error(`the compiled worker exited (${code}):\n${workerLog}`)));
    });
  });
  after(async () => {
    if (worker && worker.exitCode === null && worker.signalCode === null) {
      const exited = once(worker, 'exit');
      worker.kill('SIGTERM');
      await exited;
    }
    await h?.stop();
  });

  /** For quick commands: blocks this process (and so the lab's output pipes) while it runs. */
  function fvpb(args: string[]) {
    return spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, env, encoding: 'utf8' });
  }

  /** For a command that lasts: this process keeps serving its children meanwhile. */
  async function fvpbAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [status] = (await once(child, 'close')) as [number | null];
    return { status, stdout, stderr };
  }

  test('the bin: dist/client/cli.js with a shebang; --help answers without loading the Temporal client', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      scripts: Record<string, string>;
    };
    assert.equal(pkg.bin.fvpb, 'dist/client/cli.js');
    assert.match(pkg.scripts['worker:prod'] ?? '', /dist\/workflow-bundle\.js.*dist\/worker\/main\.js/);
    assert.ok(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n'));

    const help = fvpb(['--help']);
    assert.equal(help.status, ExitCode.success, help.stderr);
    assert.match(help.stdout, /^Usage: fvpb \[options\] \[command\]/);
    // Which packages --help loads: a hook on require, then the bin.
    const probe = spawnSync(
      process.execPath,
      [
        '-e',
        `const Module = require('node:module'); const load = Module._load; const seen = new Set();
         Module._load = function (request, ...rest) { if (request.startsWith('@temporalio/')) seen.add(request); return load.call(this, request, ...rest); };
         process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify([...seen]) + '\\n'));
         process.argv = [process.argv[0], ${JSON.stringify(bin)}, '--help'];
         require(${JSON.stringify(bin)});`,
      ],
      { cwd: repoRoot, encoding: 'utf8' },
    );
    const loaded = JSON.parse(/^LOADED (.*)$/m.exec(probe.stderr)?.[1] ?? 'null') as string[] | null;
    assert.ok(loaded, probe.stderr);
    assert.deepEqual(
      loaded.filter((m) => /^@temporalio\/(client|worker|workflow)$/.test(m)),
      [],
      `--help loaded ${loaded.join(', ')}`,
    );

    const bad = fvpb(['list', '--limit', '0']);
    assert.equal(bad.status, ExitCode.usage);
    assert.match(bad.stderr, /^Usage: fvpb list \[options\]$/m);
  });

  test('the compiled CLI runs a backup on the compiled worker with the pre-built bundle', async () => {
    assert.ok(workerLog.includes(`"bundle":"${join(dist, 'workflow-bundle.js')}"`), 'the worker uses the bundle');
    await h.lab.client.loadScenario(scenario());
    const policies = await requestedPolicies(h.lab);
    const { job: _job, ...rest } = fastRequest(JOB);
    const input = join(h.dir, 'input.json');
    writeFileSync(input, JSON.stringify(rest));
    const run = await fvpbAsync(['run', '--job', JOB, '--input', input, '--json']);
    assert.equal(run.status, ExitCode.success, run.stderr + run.stdout);
    const doc = JSON.parse(run.stdout) as { kind: string; workflowId: string };
    assert.equal(doc.kind, 'success');
    await assertConsistentSessions(h.lab, JOB, 1, vmNames(scenario()));
    await assertPoliciesAre(h.lab, policies);

    const status = await fvpbAsync(['status', doc.workflowId, '--json']);
    assert.equal(status.status, ExitCode.success, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { executionStatus: string }).executionStatus, 'COMPLETED');
  });
});
