/**
 * Which VMs Veeam is done with (workflows/early-release.ts): only a VM whose every task in the
 * session ended with Success or Warning. A VM with a pending, running or failed task, or with no
 * task yet, stays held. No server needed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackupSession } from '../../domain/veeam';
import { endedTasks, vmsReadFor } from '../../workflows/early-release';

type Task = BackupSession['tasks'][number];

function session(tasks: [string, Task['status'], Task['result']][]): BackupSession {
  return {
    id: 's-1',
    jobId: 'j-1',
    jobName: 'Nightly-SQL',
    state: 'Working',
    result: 'None',
    progress: 50,
    creationTime: '2026-01-01T00:00:00.0000000Z',
    endTime: null,
    tasks: tasks.map(([vm, status, result]) => ({ vm, status, result, progress: result === 'None' ? 10 : 100 })),
  };
}

describe('early release: which VMs Veeam has read', () => {
  test('Success and Warning are done; pending, in progress and failed are not', () => {
    const s = session([
      ['a', 'Success', 'Success'],
      ['b', 'Warning', 'Warning'],
      ['c', 'InProgress', 'None'],
      ['d', 'Pending', 'None'],
      ['e', 'Failed', 'Failed'],
    ]);
    assert.deepEqual([...vmsReadFor(s)].sort(), ['a', 'b']);
    assert.equal(endedTasks(s), 3);
  });

  test('a VM with another task running or failed beside a successful one is not done (held, fail closed)', () => {
    const s = session([
      ['a', 'Success', 'Success'],
      ['a', 'InProgress', 'None'],
      ['b', 'Failed', 'Failed'],
      ['b', 'Success', 'Success'],
    ]);
    assert.deepEqual([...vmsReadFor(s)], []);
  });

  test('no tasks yet: nothing is done', () => {
    assert.deepEqual([...vmsReadFor(session([]))], []);
    assert.equal(endedTasks(session([])), 0);
  });
});
