/**
 * Replays every committed history with today's workflow code: a change that would break runs
 * still in flight (non-determinism) fails here, before it is deployed. Any workflow of the bundle
 * replays (the type comes from the history): protectedBackup, the per-VM guards (including a
 * continue-as-new chain) and the reconciler.
 */
import { before, describe, test } from 'node:test';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { bundleWorkflowCode, Worker, type WorkflowBundle } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { workflowsPath } from '../../worker/bundle';

const fixtures = join(__dirname, '..', 'fixtures', 'histories');
const files = readdirSync(fixtures)
  .filter((f) => f.endsWith('.json'))
  .sort();

function workflowTypeOf(file: string): string | undefined {
  const history = JSON.parse(readFileSync(join(fixtures, file), 'utf8')) as {
    events: { workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }[];
  };
  return history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
}

describe('replay of committed histories', () => {
  let workflowBundle: WorkflowBundle;
  before(async () => {
    workflowBundle = await bundleWorkflowCode({ workflowsPath });
  });
  test('there are histories to replay', () => {
    assert.ok(files.length >= 5, `found ${files.length} histories in ${fixtures}`);
  });
  test('every workflow that can be in flight has histories: runs before and after the guard, guards, reconciler', () => {
    const types = (prefix: string) => new Set(files.filter((f) => f.startsWith(prefix)).map(workflowTypeOf));
    assert.deepEqual(types('v1-'), new Set(['protectedBackup']));
    assert.deepEqual(types('v2-'), new Set(['protectedBackup', 'vmGuard', 'reconcilePolicies']));
  });
  for (const file of files) {
    test(`replays ${file} without non-determinism`, async () => {
      const history = historyFromJSON(JSON.parse(readFileSync(join(fixtures, file), 'utf8')));
      await Worker.runReplayHistory({ workflowBundle, replayName: file }, history, file.replace(/\.json$/, ''));
    });
  }
});
