/**
 * Replays every committed history with today's workflow code: a change that would break runs
 * still in flight (non-determinism) fails here, before it is deployed. Any workflow of the bundle
 * replays (the type comes from the history): protectedBackup, the per-VM guards (including a
 * continue-as-new chain), the reconciler, and the paths taken only under a patch (their histories
 * carry its marker: patch-markers.ts lists which file carries which).
 *
 * All histories replay through one replay worker (`runReplayHistories`): a worker per history
 * cost most of this file's time. Each history is still its own test, failing with its own error.
 */
import { before, describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { preloadModules, workflowsPath } from '../../worker/bundle';
import { RESTORE_TERMINAL_OUTCOMES } from '../../workflows/restore-policy';
import { ADOPT_CARRIED_RECORDS } from '../../workflows/guard/record';
import {
  PRE_JOB_EXTENDS_RETRY_WAIT_PATCH,
  VEEAM_STARTED_EARLY_RELEASE_PATCH,
  VEEAM_STARTED_PATCH,
} from '../../workflows/veeam-started';
import { EARLY_RELEASE_PATCH } from '../../workflows/early-release';
import { GUARD_REQUESTS_AS_ACTIVITIES, OPERATOR_VISIBILITY } from '../../workflows/activity-proxies';
import { OPERATOR_NOTIFICATIONS } from '../../workflows/notifications';
import { ABANDONED_JOB_SHORT_READS } from '../../workflows/guard/abandoned-job';
import { START_FENCING_PATCH } from '../../workflows/backup-job';
import { SCHEDULE_WARNING_PATCH } from '../../workflows/schedule-warning';
import { GUARD_BY_UUID, HAND_OVER_BY_TIME } from '../../workflows/guard/holder';
import { GUARD_LEAN_FLUSH } from '../../workflows/guard/steps';
import { FORGET_CLOSED_WAITERS } from '../../workflows/guard/entity';
import { fixturePatchMarkers, fixturesDir as fixtures } from './patch-markers';

const markers = fixturePatchMarkers();
const files = [...markers.keys()];

/**
 * Patches whose paths have recorded histories: losing the last history of one (a fixture deleted,
 * a recording that no longer takes the path) leaves that path unchecked, so it fails here.
 */
const RECORDED_PATCHES = [
  'vm-guard',
  'reverify-before-start',
  'guard-watches-drift',
  OPERATOR_VISIBILITY,
  GUARD_REQUESTS_AS_ACTIVITIES,
  EARLY_RELEASE_PATCH,
  OPERATOR_NOTIFICATIONS,
  ABANDONED_JOB_SHORT_READS,
  // v5 (run-patches.ts: older patches that no earlier fixture took; 'abandoned-job-wait-holds' cannot be recorded)
  'fail-closed-vms',
  START_FENCING_PATCH,
  SCHEDULE_WARNING_PATCH,
  RESTORE_TERMINAL_OUTCOMES,
  ADOPT_CARRIED_RECORDS,
  VEEAM_STARTED_PATCH,
  VEEAM_STARTED_EARLY_RELEASE_PATCH,
  PRE_JOB_EXTENDS_RETRY_WAIT_PATCH,
  // v6 (the baseline group again: runs and guards keyed on the VM's FVP uuid)
  GUARD_BY_UUID,
  // v7 (the baseline group again: guards with local reads and one switch-and-flush activity)
  GUARD_LEAN_FLUSH,
  // v8 (restore-outcomes' hand-over only: the run hands over after a time, its guard forgets the closed run)
  HAND_OVER_BY_TIME,
  FORGET_CLOSED_WAITERS,
];

function workflowTypeOf(file: string): string | undefined {
  const history = JSON.parse(readFileSync(join(fixtures, file), 'utf8')) as {
    events: { workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }[];
  };
  return history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
}

const workflowIdOf = (file: string): string => file.replace(/\.json$/, '');

describe('replay of committed histories', () => {
  /** Each history's replay error, or undefined once it replayed cleanly. */
  const replayed = new Map<string, Error | undefined>();
  before(async () => {
    const workflowBundle = await bundleWorkflowCode({ workflowsPath, preloadModules });
    const histories = files.map((file) => ({
      workflowId: workflowIdOf(file),
      history: historyFromJSON(JSON.parse(readFileSync(join(fixtures, file), 'utf8'))),
    }));
    for await (const result of Worker.runReplayHistories({ workflowBundle, replayName: 'fixtures' }, histories)) {
      replayed.set(result.workflowId, result.error);
    }
  });
  test('there are histories to replay', () => {
    assert.ok(files.length >= 5, `found ${files.length} histories in ${fixtures}`);
  });
  test('every workflow that can be in flight has histories: runs before and after the guard, guards, reconciler', () => {
    const types = (prefix: string) => new Set(files.filter((f) => f.startsWith(prefix)).map(workflowTypeOf));
    assert.deepEqual(types('v1-'), new Set(['protectedBackup']));
    assert.deepEqual(types('v2-'), new Set(['protectedBackup', 'vmGuard', 'reconcilePolicies']));
    assert.deepEqual(types('v5-'), new Set(['protectedBackup', 'vmGuard', 'reconcilePolicies']));
    assert.deepEqual(types('v6-'), new Set(['protectedBackup', 'vmGuard', 'reconcilePolicies']));
    assert.deepEqual(types('v7-'), new Set(['protectedBackup', 'vmGuard', 'reconcilePolicies']));
  });
  test('every patch with a recorded path has a history that carries its marker', () => {
    const carried = new Set([...markers.values()].flat());
    const missing = RECORDED_PATCHES.filter((id) => !carried.has(id));
    assert.deepEqual(missing, [], `no committed history carries the patch markers ${missing.join(', ')}`);
  });
  for (const file of files) {
    test(`replays ${file} without non-determinism`, () => {
      assert.ok(replayed.has(workflowIdOf(file)), `${file} was not replayed`);
      const error = replayed.get(workflowIdOf(file));
      if (error) throw error;
    });
  }
});
