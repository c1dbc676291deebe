/**
 * What every group of recorded scenarios shares: where a history is written (never over an
 * existing file), the check that a recording took the path it is for, and how a guard run is found.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Harness } from '../helpers/harness';
import { temporalCli } from '../helpers/tools';
import { guardRuns, waitFor } from '../helpers/guard';
import { fixturesDir, patchMarkersOf } from './patch-markers';

export interface Recording {
  h: Harness;
  /** The fixtures' prefix: `<version>-<name>.json`. */
  version: string;
  /** The queue of the worker started with the guard test settings (guardWorkerEnv). */
  taskQueue: string;
}

/**
 * Writes a workflow's history as `<file>`; with `patches`, fails unless the history carries each
 * of those patch markers: a fixture meant for a patched path that missed it proves nothing.
 */
export function save(h: Harness, file: string, workflowId: string, runId?: string, patches: string[] = []): void {
  const path = join(fixturesDir, file);
  if (existsSync(path)) throw new Error(`${path} exists: fixtures are never overwritten (pick another version)`);
  // The CLI writes the same JSON the Web UI downloads: what an operator would attach to a bug.
  const json = execFileSync(temporalCli, [
    'workflow',
    'show',
    '--address',
    h.env.address,
    '--workflow-id',
    workflowId,
    ...(runId ? ['--run-id', runId] : []),
    '--output',
    'json',
  ]).toString('utf8');
  const carried = patchMarkersOf(json);
  const missing = patches.filter((id) => !carried.includes(id));
  if (missing.length > 0) {
    throw new Error(
      `${file}: the history of ${workflowId} lacks the patch markers ${missing.join(', ')} (it has ${carried.join(', ')})`,
    );
  }
  writeFileSync(path, json);
  console.log(`recorded ${path}${patches.length > 0 ? ` (${patches.join(', ')})` : ''}`);
}

/** Fails the recording when a scenario did not go the way its fixture says. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`recording: ${message}`);
}

/** The newest guard run of `vm` started since `since`, once it closed. */
export async function closedGuard(h: Harness, vm: string, since: number, status = 'COMPLETED'): Promise<string> {
  const run = await waitFor(`a ${status} guard of ${vm}`, async () =>
    (await guardRuns(h.env.client, vm, since)).find((r) => r.status === status),
  );
  return run.runId;
}
