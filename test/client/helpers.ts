/**
 * Helpers of the client tests: the CLI run in-process with captured output, and an environment
 * that points it at the test's dev server and at nothing else (no stray profile file).
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../client/cli/program';
import type { CliIo } from '../../client/cli/context';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (for --json runs). */
  json<T = Record<string, unknown>>(): T;
}

/** An environment with only what the CLI should see: the address and task queue, and an empty HOME. */
export function cliEnv(address: string, taskQueue: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: mkdtempSync(join(tmpdir(), 'fvpb-cli-home-')),
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...extra,
  };
}

export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { tty?: boolean } = {},
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (t: string) => (stdout += t), isTTY: options.tty ?? false, columns: 100 },
    stderr: { write: (t: string) => (stderr += t) },
    env,
  };
  const code = await main(args, io);
  return {
    code,
    stdout,
    stderr,
    json<T>() {
      try {
        return JSON.parse(stdout) as T;
      } catch {
        assert.fail(`stdout is not one JSON document:\n${stdout}\nstderr:\n${stderr}`);
      }
    },
  };
}

export { waitFor } from '../helpers/wait';
