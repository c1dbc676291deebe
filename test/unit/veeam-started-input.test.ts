/**
 * The Veeam-started mode's input (`veeamStarted`) and the hook commands' arguments: bounded, each
 * refusal naming the field and its range, refused before anything is started (CLI exit 2).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeZodError } from '../../domain/zod-issues';
import { ProtectedBackupInput } from '../../workflows/input';
import { VeeamStartedSettings } from '../../workflows/veeam-started-input';
import { ExitCode } from '../../client/exit-codes';
import { veeamStartedRequest } from '../../client/hook';
import { cliEnv, runCli } from '../client/helpers';
import { repoRoot } from '../helpers/tools';

function refusal(value: unknown): string {
  const parsed = ProtectedBackupInput.safeParse(value);
  assert.equal(parsed.success, false, `expected ${JSON.stringify(value)} to be refused`);
  return describeZodError(parsed.error!);
}

describe('veeamStarted input', () => {
  test('defaults: 10 minutes for the session to appear, 15 minutes of retry grace; absent means the usual run', () => {
    assert.deepEqual(VeeamStartedSettings.parse({}), { sessionDeadline: '10 minutes', retryGrace: '15 minutes' });
    assert.equal(ProtectedBackupInput.parse({ job: 'J' }).veeamStarted, undefined);
    const hooked = ProtectedBackupInput.parse(veeamStartedRequest({ job: 'J' }));
    assert.deepEqual(hooked.veeamStarted, { sessionDeadline: '10 minutes', retryGrace: '15 minutes' });
    assert.equal(hooked.flush.deadline, '5 minutes', "the hook's flush deadline, below its 9-minute timeout");
    const own = veeamStartedRequest({ job: 'J', flush: { deadline: '2 minutes' } });
    assert.equal(ProtectedBackupInput.parse(own).flush.deadline, '2 minutes');
  });

  test('each duration is bounded (1 second to 24 hours), the message naming the field', () => {
    for (const field of ['sessionDeadline', 'retryGrace']) {
      for (const value of ['500ms', '25 hours', 0, 'soon']) {
        assert.match(
          refusal({ job: 'J', veeamStarted: { [field]: value } }),
          new RegExp(`veeamStarted\\.${field}: `),
          `${field} = ${JSON.stringify(value)}`,
        );
      }
      assert.ok(ProtectedBackupInput.safeParse({ job: 'J', veeamStarted: { [field]: '1 second' } }).success);
      assert.ok(ProtectedBackupInput.safeParse({ job: 'J', veeamStarted: { [field]: '24 hours' } }).success);
    }
  });

  test('unknown keys and a dry run are refused', () => {
    assert.match(refusal({ job: 'J', veeamStarted: { password: 'x' } }), /veeamStarted/);
    assert.match(
      refusal({ job: 'J', dryRun: true, veeamStarted: {} }),
      /veeamStarted: expected no veeamStarted with dryRun/,
    );
  });

  test('hook commands: a missing --job or a bad --timeout exits 2 before connecting', async () => {
    const env = cliEnv('127.0.0.1:1', 'nowhere');
    const noJob = await runCli(['hook', 'pre-job'], env);
    assert.equal(noJob.code, ExitCode.usage);
    assert.match(noJob.stderr, /--job: /);
    const badTimeout = await runCli(['hook', 'pre-job', '--job', 'J', '--timeout', '30 days'], env);
    assert.equal(badTimeout.code, ExitCode.usage);
    assert.match(badTimeout.stderr, /--timeout: expected a duration between 1 second and 24 hours/);
    const shortTimeout = await runCli(['hook', 'pre-job', '--job', 'J', '--timeout', '5 minutes'], env);
    assert.equal(shortTimeout.code, ExitCode.usage, shortTimeout.stderr);
    assert.match(shortTimeout.stderr, /--timeout: expected longer than the run's flush.deadline \(5 minutes\)/);
    const noJobPost = await runCli(['hook', 'post-job'], env);
    assert.equal(noJobPost.code, ExitCode.usage);
  });

  test("the README's Scripts-field lines use only parameters scripts/veeam-hook.ps1 declares, with the job named", () => {
    const script = readFileSync(join(repoRoot, 'scripts', 'veeam-hook.ps1'), 'utf8');
    const declared = new Set([...script.matchAll(/\[string\] \$(\w+)/g)].map((m) => m[1]));
    const lines = readFileSync(join(repoRoot, 'README.md'), 'utf8')
      .split('\n')
      .filter((line) => line.includes('veeam-hook.ps1 -Hook'));
    assert.ok(lines.length >= 2, 'the README shows the pre-job and the post-job line');
    for (const line of lines) {
      assert.match(line, /-Job \S+/, line);
      const args = line.slice(line.indexOf('veeam-hook.ps1'));
      for (const [, name] of args.matchAll(/ -(\w+)/g))
        assert.ok(declared.has(name!), `-${name} is a parameter of the script`);
    }
  });
});
