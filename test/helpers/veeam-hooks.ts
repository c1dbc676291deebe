/**
 * The pre-job and post-job hooks of a job Veeam schedules, as an admin would configure them: the
 * real CLI (`hook pre-job|post-job --job`, through tsx) with the run input in a file beside the
 * script. For anything that drives Veeam-started runs with the lab's scheduler (lab/scheduler.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ScriptCommand } from '../../lab/scheduler';
import type { ProtectedBackupRequest } from '../../workflows/input';
import { uniqueId } from './harness';
import { repoRoot } from './tools';

export interface HookTarget {
  /** The dev server's address. */
  address: string;
  taskQueue: string;
  job: string;
}

/** Writes the run input a pre-job hook sends into `dir`; returns its path. */
export function writeHookInput(dir: string, request: ProtectedBackupRequest): string {
  const path = join(dir, `${uniqueId('hook-input')}.json`);
  writeFileSync(path, JSON.stringify(request));
  return path;
}

/**
 * The command Veeam runs as the job's pre-job or post-job script. Its environment is Veeam's
 * (a PATH and a HOME), not the caller's: nothing of the test process leaks into the hook.
 */
export function hookCommand(target: HookTarget, kind: 'pre-job' | 'post-job', input?: string): ScriptCommand {
  const args = ['--import', 'tsx', join(repoRoot, 'client', 'cli.ts'), 'hook', kind, '--job', target.job];
  if (input) args.push('--input', input);
  args.push('--address', target.address, '--task-queue', target.taskQueue, '--json');
  return { command: process.execPath, args, cwd: repoRoot, env: { PATH: process.env.PATH ?? '', HOME: '/tmp' } };
}
