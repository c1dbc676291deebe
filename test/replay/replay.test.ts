/**
 * Replays every committed history with today's workflow code: a change that would break runs
 * still in flight (non-determinism) fails here, before it is deployed.
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

describe('replay of committed histories', () => {
  let workflowBundle: WorkflowBundle;
  before(async () => {
    workflowBundle = await bundleWorkflowCode({ workflowsPath });
  });
  test('there are histories to replay', () => {
    assert.ok(files.length >= 5, `found ${files.length} histories in ${fixtures}`);
  });
  for (const file of files) {
    test(`replays ${file} without non-determinism`, async () => {
      const history = historyFromJSON(JSON.parse(readFileSync(join(fixtures, file), 'utf8')));
      await Worker.runReplayHistory({ workflowBundle, replayName: file }, history, file.replace(/\.json$/, ''));
    });
  }
});
