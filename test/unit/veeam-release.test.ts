/**
 * `veeam.release`: each VM back to write-back as soon as its Veeam task is done (`per-vm`, the
 * default) or every VM at the session's end (`session-end`, the behaviour before early release).
 * The input's schema and the CLI's `--release` flag; no server needed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describeZodError } from '../../domain/zod-issues';
import { buildRequest } from '../../client/cli/runs';
import { ExitCode } from '../../client/exit-codes';
import { ProtectedBackupInput } from '../../workflows/input';
import { cliEnv, runCli } from '../client/helpers';

describe('veeam.release', () => {
  test("defaults to per-vm, with or without a veeam object; 'session-end' keeps today's behaviour", () => {
    assert.equal(ProtectedBackupInput.parse({ job: 'J' }).veeam.release, 'per-vm');
    assert.equal(ProtectedBackupInput.parse({ job: 'J', veeam: { fullBackup: true } }).veeam.release, 'per-vm');
    const input = ProtectedBackupInput.parse({ job: 'J', veeam: { release: 'session-end' } });
    assert.equal(input.veeam.release, 'session-end');
  });

  test('anything else is refused, naming the field and the choices', () => {
    const parsed = ProtectedBackupInput.safeParse({ job: 'J', veeam: { release: 'never' } });
    assert.equal(parsed.success, false);
    assert.match(describeZodError(parsed.error!), /veeam\.release: .*"per-vm"\|"session-end"/);
  });

  test('--release sets it over an --input file, beside its other veeam options', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fvpb-release-'));
    const file = join(dir, 'input.json');
    writeFileSync(file, JSON.stringify({ job: 'J', veeam: { onCancel: 'let-finish', release: 'per-vm' } }));
    const request = buildRequest({ input: file, release: 'session-end', fullBackup: true }, new Command());
    assert.deepEqual(request.veeam, { onCancel: 'let-finish', release: 'session-end', fullBackup: true });
    assert.equal(buildRequest({ job: 'J' }, new Command()).veeam, undefined, 'no flag: the input says');
  });

  test('the CLI refuses an unknown --release before it connects anywhere', async () => {
    const result = await runCli(['run', '--job', 'J', '--release', 'never'], cliEnv('127.0.0.1:1', 'q'));
    assert.equal(result.code, ExitCode.usage);
    assert.match(result.stderr, /--release/);
  });
});
