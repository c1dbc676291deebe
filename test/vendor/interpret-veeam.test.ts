/**
 * Every former decision of the module's Veeam side, now in activities/vendor/interpret-veeam.ts
 * (issue 11), on the raw shapes of Veeam 12 and 13: session state and result, progress as a number
 * or an object's Percents, the 1900 EndTime placeholder, task results, the newest session, the
 * job's VMs and IsRunning. What the table cannot read fails closed (VendorMismatch).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import type { RawObject } from '../../activities/powershell/operations';
import { VENDOR_MISMATCH } from '../../activities/vendor/interpret';
import {
  interpretJob,
  interpretSession,
  interpretSessionObject,
  newestSession,
  sessionAfterStart,
} from '../../activities/vendor/interpret-veeam';
import type { BackupSession } from '../../domain/veeam';
import { PROFILES } from '../../lab/model/profile';
import { NO_END_TIME, rawJob, rawSession } from '../../lab/model/raw';

const DOC: BackupSession = {
  id: '0b6e6f1c-1111-4222-8333-444455556666',
  jobId: 'job-1',
  jobName: 'Nightly',
  state: 'Working',
  result: 'None',
  progress: 40,
  creationTime: '2025-01-01T00:00:00.000Z',
  endTime: null,
  tasks: [
    { vm: 'a', status: 'Success', result: 'Success', progress: 100 },
    { vm: 'b', status: 'InProgress', result: 'None', progress: 30 },
    { vm: 'c', status: 'Pending', result: 'None', progress: 0 },
  ],
};

function mismatch(fn: () => unknown): void {
  assert.throws(
    fn,
    (err: unknown) => err instanceof ApplicationFailure && err.type === VENDOR_MISMATCH && err.nonRetryable,
  );
}

for (const profile of ['common', 'fvp35-enterprise-object-vbr13'] as const) {
  describe(`Veeam ${PROFILES[profile].veeam} raw shapes (${profile})`, () => {
    test('a running session and its tasks read back exactly as the lab holds them', () => {
      assert.deepEqual(interpretSession(rawSession(DOC, PROFILES[profile]), ''), DOC);
    });

    test('a stopped session has its end; Warning and Failed task statuses are results, others None', () => {
      const stopped: BackupSession = {
        ...DOC,
        state: 'Stopped',
        result: 'Warning',
        progress: 100,
        endTime: '2025-01-01T01:00:00.000Z',
        tasks: [
          { vm: 'a', status: 'Warning', result: 'Warning', progress: 100 },
          { vm: 'b', status: 'Failed', result: 'Failed', progress: 50 },
          { vm: 'c', status: 'Cancelled', result: 'None', progress: 0 },
        ],
      };
      assert.deepEqual(interpretSession(rawSession(stopped, PROFILES[profile]), ''), stopped);
    });
  });
}

describe('session details', () => {
  const base = rawSession(DOC, PROFILES.common).session;
  test('the 1900 EndTime placeholder is no end, also on a stopped session; a running one never has an end', () => {
    assert.equal(base['EndTime'], NO_END_TIME);
    assert.equal(interpretSessionObject({ ...base, State: 'Stopped' }, '').endTime, null);
    const running = interpretSessionObject({ ...base, EndTime: '2025-01-01T02:00:00.000Z' }, '');
    assert.equal(running.endTime, null);
  });

  test('progress: Percents over the plain value, clamped, and 0 when unreadable (it decides nothing)', () => {
    const read = (o: RawObject) => interpretSessionObject({ ...base, ...o }, '').progress;
    assert.equal(read({ Progress: 'CBackupSessionProgress', 'Progress.Percents': 55 }), 55);
    assert.equal(read({ Progress: 70, 'Progress.Percents': null }), 70);
    assert.equal(read({ Progress: '12.5', 'Progress.Percents': null }), 12.5);
    assert.equal(read({ Progress: 250, 'Progress.Percents': null }), 100);
    assert.equal(read({ Progress: 'CBackupSessionProgress', 'Progress.Percents': null }), 0);
  });

  test("the job name comes from the session, else the caller's", () => {
    assert.equal(interpretSessionObject({ ...base, JobName: '' }, 'Fallback').jobName, 'Fallback');
    assert.equal(interpretSessionObject(base, 'Fallback').jobName, 'Nightly');
  });

  test('fails closed: unknown State or Result, no Id, no CreationTime, a task without a name', () => {
    mismatch(() => interpretSessionObject({ ...base, State: 'Exploding' }, ''));
    mismatch(() => interpretSessionObject({ ...base, Result: 'Maybe' }, ''));
    const { Id: _id, ...noId } = base;
    mismatch(() => interpretSessionObject(noId, ''));
    mismatch(() => interpretSessionObject({ ...base, CreationTime: 'yesterday' }, ''));
    mismatch(() => interpretSession({ session: base, tasks: [{ Status: 'Success' }] }, ''));
    mismatch(() => interpretSessionObject('a text', ''));
  });

  test("the newest of a job's sessions by CreationTime, the later listed on a tie; none: null", () => {
    const at = (id: string, time: string) => ({ ...base, Id: id, CreationTime: time });
    const sessions = [
      at('old', '2025-01-01T00:00:00Z'),
      at('new', '2025-01-02T00:00:00Z'),
      at('mid', '2025-01-01T12:00:00Z'),
    ];
    assert.equal(newestSession(sessions, 'J')?.id, 'new');
    assert.equal(newestSession([at('x', '2025-01-01T00:00:00Z'), at('y', '2025-01-01T00:00:00Z')], 'J')?.id, 'y');
    assert.equal(newestSession([], 'J'), null);
  });

  test("a start's session: the newest not listed before the start; none yet (it appears late): null", () => {
    const at = (id: string, time: string) => ({ ...base, Id: id, CreationTime: time });
    const old = at('0b6e6f1c-aaaa-4222-8333-444455556666', '2025-01-01T00:00:00Z');
    const start = { before: [old['Id']] };
    // Polls before Veeam lists it: only what was there, or nothing at all (FindLastSession of a new job).
    assert.equal(sessionAfterStart([old], start, 'J'), null);
    assert.equal(sessionAfterStart([], { before: [] }, 'J'), null);
    // It appears on a later poll; the old one, though listed, is never chosen.
    const ours = at('1c6e6f1c-bbbb-4222-8333-444455556666', '2025-01-01T01:00:00Z');
    assert.equal(sessionAfterStart([ours, old], start, 'J')?.id, ours['Id']);
    assert.equal(sessionAfterStart([ours], { before: [] }, 'J')?.id, ours['Id'], 'a job that never ran');
    // Several new ones (an operator started it too): the newest, by CreationTime, not by listing order.
    const later = at('2c6e6f1c-cccc-4222-8333-444455556666', '2025-01-01T02:00:00Z');
    assert.equal(sessionAfterStart([later, ours, old], start, 'J')?.id, later['Id']);
    // A session listed before is never ours even when it is the newest (clock skew), whatever the GUID's case.
    const skewed = at('0B6E6F1C-DDDD-4222-8333-444455556666', '2030-01-01T00:00:00Z');
    assert.equal(
      sessionAfterStart([skewed, ours], { before: [String(skewed['Id']).toLowerCase()] }, 'J')?.id,
      ours['Id'],
    );
    // What the choice rests on must be readable: a malformed answer or session fails closed.
    mismatch(() => sessionAfterStart([ours], { before: 'x' } as never, 'J'));
    mismatch(() => sessionAfterStart([ours], {} as never, 'J'));
    mismatch(() => sessionAfterStart([{ ...ours, State: 'Weird' }], start, 'J'));
  });
});

describe('jobs', () => {
  test('VMs are the included VM objects (an object without Type counts), IsRunning as Veeam says', () => {
    const raw = rawJob({ id: 'j', name: 'Nightly', vms: ['a', 'b'] }, true);
    const vm = { '@type': 'Veeam.Backup.Core.CObjectInJob', 'Object.ViType': 'VirtualMachine' };
    raw.objects.push({ ...vm, Name: 'c', Type: 'Exclude' });
    raw.objects.push({ ...vm, Name: 'd' } as never);
    assert.deepEqual(interpretJob(raw), {
      id: 'j',
      name: 'Nightly',
      vms: ['a', 'b', 'd'],
      isRunning: true,
      schedule: 'disabled',
    });
    // Without its inventory type, an object could be a container: fails closed (containers.test.ts has the rest).
    raw.objects.push({ '@type': 'Veeam.Backup.Core.CObjectInJob', Name: 'e', Type: 'Include' });
    mismatch(() => interpretJob(raw));
  });

  test('no IsRunning: null (the caller asks the newest session); a non-boolean one fails closed', () => {
    const raw = rawJob({ id: 'j', name: 'Nightly', vms: [] }, false);
    const { IsRunning: _running, ...without } = raw.job;
    assert.equal(interpretJob({ ...raw, job: without }).isRunning, null);
    mismatch(() => interpretJob({ ...raw, job: { ...raw.job, IsRunning: 'True' } }));
  });
});
