/**
 * Veeam's parallel task slots in the lab: each VM's task starts, in job order, as soon as a slot is
 * free, takes its own time and ends with its own result; its snapshot is taken when it starts and its
 * verdict given once its read is over. A VM given back write-back after its own task ended, while
 * the session still runs, is consistent.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RawSession, RawValue } from '../../activities/powershell/operations';
import { interpretSession, sessionAfterStart, type StartFacts } from '../../activities/vendor/interpret-veeam';
import type { BackupSession } from '../../domain/veeam';
import { fakeLab, type FakeLab } from '../../lab/testing';
import type { ScenarioInput } from '../../lab/scenario';

const WB = { mode: 'WriteBack', peers: 1, externalPeers: null } as const;
const START = { job: 'J', fullBackup: false, retryBackup: false };
const VMS = ['a', 'b', 'c', 'd', 'e'];

function scenario(job: object = {}): ScenarioInput {
  return {
    fvp: {
      waitTimeCapMs: 50,
      vms: VMS.map((name) => ({ name, requested: WB, writeIntervalMs: 10, destageMs: 100 })),
    },
    veeam: {
      jobs: [
        {
          name: 'J',
          vms: VMS,
          startDelayMs: 100,
          taskMs: 300,
          taskSlots: 2,
          // a: 300, b: 1000, c: 200, d: 300, e: 300 (ms)
          vmTasks: { b: { taskMs: 1000 }, c: { taskMs: 200 } },
          ...job,
        },
      ],
    },
  };
}

/** The session as the worker reads it (the module returns Veeam's raw objects). */
async function session(f: FakeLab, id: string): Promise<BackupSession> {
  const { matches } = (await f.ok('veeam', 'Get-BackupSession', { sessionId: id })) as { matches: RawSession[] };
  assert.equal(matches.length, 1);
  return interpretSession(matches[0]!, '');
}

/** Starts the job and reads the session it created, as the worker does (the module answers with the sessions before). */
async function start(f: FakeLab): Promise<BackupSession> {
  const before = (await f.ok('veeam', 'Start-BackupJob', START)) as StartFacts;
  const listed = (await f.ok('veeam', 'Find-BackupSession', { job: 'J', lookup: 'GetByJob' })) as {
    sessions: RawValue[];
  };
  return session(f, sessionAfterStart(listed.sessions, before, 'J')!.id);
}

async function switchAndVerify(f: FakeLab): Promise<void> {
  for (const vm of VMS) await f.ok('fvp', 'Set-VmWriteThrough', { vm });
  f.clock.advance(200); // every VM destaged (100 ms lag)
}

describe('task slots', () => {
  test('two slots: each task starts when a slot frees, in job order; its snapshot when it starts', async () => {
    const f = await fakeLab(scenario());
    const t0 = f.clock.t;
    const started = await start(f);
    // Slot 1: a 100-400, c 400-600, d 600-900; slot 2: b 100-1100; e takes slot 1 at 900-1200.
    const snapshots = f.lab.view().veeam.sessions[0]!.snapshots.map((s) => [s.vm, (s.at ?? 0) - t0]);
    assert.deepEqual(snapshots, [
      ['a', 100],
      ['b', 100],
      ['c', 400],
      ['d', 600],
      ['e', 900],
    ]);
    f.clock.advance(650);
    const mid = await session(f, started.id);
    assert.equal(mid.state, 'Working');
    assert.deepEqual(
      mid.tasks.map((t) => [t.vm, t.status, t.result]),
      [
        ['a', 'Success', 'Success'],
        ['b', 'InProgress', 'None'],
        ['c', 'Success', 'Success'],
        ['d', 'InProgress', 'None'],
        ['e', 'Pending', 'None'],
      ],
    );
    f.clock.advance(500); // 1150: b done, e still in progress
    assert.equal((await session(f, started.id)).state, 'Working');
    f.clock.advance(50); // 1200: the last task ends
    const done = await session(f, started.id);
    assert.equal(done.state, 'Stopped');
    assert.equal(done.result, 'Success');
    assert.deepEqual(
      f.lab.verdicts({ sessionId: started.id }).map((v) => v.vm),
      VMS,
      'every VM judged, in job order',
    );
  });

  test('one slot (the default) runs the tasks one after the other, as before', async () => {
    const f = await fakeLab(scenario({ taskSlots: undefined, vmTasks: undefined }));
    const t0 = f.clock.t;
    await f.ok('veeam', 'Start-BackupJob', START);
    const at = f.lab.view().veeam.sessions[0]!.snapshots.map((s) => (s.at ?? 0) - t0);
    assert.deepEqual(at, [100, 400, 700, 1000, 1300]);
  });

  test("a task's own result: a failed task makes the session Failed; a warning one makes it Warning", async () => {
    for (const [outcome, expected] of [
      ['Failed', 'Failed'],
      ['Warning', 'Warning'],
    ] as const) {
      const f = await fakeLab(scenario({ vmTasks: { b: { taskMs: 1000 }, c: { taskMs: 200, outcome } } }));
      const started = await start(f);
      f.clock.advance(650);
      const mid = await session(f, started.id);
      assert.deepEqual(
        mid.tasks.filter((t) => t.result !== 'None').map((t) => [t.vm, t.result]),
        [
          ['a', 'Success'],
          ['c', outcome],
        ],
      );
      assert.equal(mid.result, 'None', 'no session result while it runs');
      f.clock.advance(1000);
      assert.equal((await session(f, started.id)).result, expected);
    }
  });

  test('a stop mid-session: finished tasks keep their result, running ones fail and are read until the end', async () => {
    const f = await fakeLab(scenario());
    const started = await start(f);
    f.clock.advance(500); // a and b started at 100 (a done at 400), c at 400
    await f.ok('veeam', 'Stop-BackupJob', { job: 'J' });
    f.clock.advance(1000);
    const stopped = await session(f, started.id);
    assert.equal(stopped.result, 'Failed');
    assert.deepEqual(
      stopped.tasks.map((t) => [t.vm, t.result]),
      [
        ['a', 'Success'],
        ['b', 'Failed'],
        ['c', 'Failed'],
        ['d', 'Failed'],
        ['e', 'Failed'],
      ],
    );
    const verdicts = f.lab.verdicts({ sessionId: started.id });
    assert.deepEqual(
      verdicts.map((v) => [v.vm, (v.readUntil ?? 0) - v.snapshotAt]),
      [
        ['a', 300],
        ['b', 400 + 100], // until the session stopped (stop at 500, stopDelayMs 100 by default)
        ['c', 100 + 100],
      ],
      'd and e never snapshotted',
    );
  });

  test('a VM given back after its own task ended, while others are still read, is consistent', async () => {
    const f = await fakeLab(scenario());
    f.clock.advance(1000);
    await switchAndVerify(f);
    const started = await start(f);
    f.clock.advance(400); // a's task is over (100-400); b is still read until 1100
    await f.ok('fvp', 'Restore-VmCachePolicy', { vm: 'a', policy: WB });
    f.clock.advance(200); // 600: c's task (400-600) is over too
    await f.ok('fvp', 'Restore-VmCachePolicy', { vm: 'c', policy: WB });
    f.clock.advance(100); // 700: d is read (600-900): giving it back now is a mistake
    await f.ok('fvp', 'Restore-VmCachePolicy', { vm: 'd', policy: WB });
    f.clock.advance(1000);
    assert.equal((await session(f, started.id)).state, 'Stopped');
    const verdicts = f.lab.verdicts({ sessionId: started.id });
    assert.deepEqual(
      verdicts.map((v) => [v.vm, v.consistent]),
      [
        ['a', true],
        ['b', true],
        ['c', true],
        ['d', false],
        ['e', true],
      ],
      'only d was given back while Veeam read it',
    );
    assert.match(verdicts[3]!.reason, /given write-back 100 ms after its snapshot, while Veeam still read it/);
  });
});
