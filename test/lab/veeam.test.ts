import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Envelope } from '../../activities/powershell/operations';
import type { BackupJob, BackupSession } from '../../domain/veeam';
import { fakeLab } from '../../lab/testing';
import type { ScenarioInput } from '../../lab/scenario';

const WB = { mode: 'WriteBack', peers: 1, externalPeers: null } as const;

function scenario(outcome: 'Success' | 'Warning' | 'Failed' = 'Success'): ScenarioInput {
  return {
    fvp: { vms: ['a', 'b', 'c'].map((name) => ({ name, requested: WB })) },
    veeam: {
      jobs: [
        { name: 'Nightly', vms: ['a', 'b', 'c'], startDelayMs: 100, taskMs: 200, stopDelayMs: 50, outcome },
        { name: 'Other', vms: ['a'], startDelayMs: 0, taskMs: 100 },
      ],
    },
  };
}

function errorOf(envelope: Envelope) {
  if (envelope.ok) assert.fail(`expected an error envelope, got ${JSON.stringify(envelope)}`);
  return envelope.error;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('Veeam jobs and sessions', () => {
  test('a session goes Starting -> Working -> Stopped with per-VM tasks and the job outcome', async () => {
    const f = await fakeLab(scenario());
    const t0 = f.clock.t;
    const started = (await f.ok('veeam', 'Start-BackupJob', {
      job: 'Nightly',
      fullBackup: false,
      retryBackup: false,
    })) as BackupSession;
    assert.match(started.id, GUID);
    assert.equal(started.state, 'Starting');
    assert.equal(started.result, 'None');
    assert.equal(started.creationTime, new Date(t0).toISOString());
    assert.equal(started.endTime, null);
    assert.deepEqual(
      started.tasks.map((t) => [t.vm, t.status, t.result]),
      [
        ['a', 'Pending', 'None'],
        ['b', 'Pending', 'None'],
        ['c', 'Pending', 'None'],
      ],
    );
    const job = (await f.ok('veeam', 'Get-BackupJob', { job: 'Nightly' })) as BackupJob;
    assert.equal(job.isRunning, true);
    assert.deepEqual(job.vms, ['a', 'b', 'c']);

    f.clock.advance(150);
    const working = (await f.ok('veeam', 'Get-BackupSession', { sessionId: started.id })) as BackupSession;
    assert.equal(working.state, 'Working');
    assert.equal(working.result, 'None');
    assert.deepEqual(
      working.tasks.map((t) => [t.status, t.progress]),
      [
        ['InProgress', 25],
        ['Pending', 0],
        ['Pending', 0],
      ],
    );

    f.clock.advance(550);
    const done = (await f.ok('veeam', 'Get-BackupSession', { sessionId: started.id })) as BackupSession;
    assert.equal(done.state, 'Stopped');
    assert.equal(done.result, 'Success');
    assert.equal(done.progress, 100);
    assert.equal(done.endTime, new Date(t0 + 700).toISOString());
    assert.ok(done.tasks.every((t) => t.result === 'Success' && t.progress === 100));
    assert.equal(((await f.ok('veeam', 'Get-BackupJob', { job: 'Nightly' })) as BackupJob).isRunning, false);
    assert.equal(f.lab.view().counts.sessionsByJob['Nightly'], 1);
  });

  test('the configured outcome is the result of a session that runs to its end', async () => {
    for (const outcome of ['Warning', 'Failed'] as const) {
      const f = await fakeLab(scenario(outcome));
      const s = (await f.ok('veeam', 'Start-BackupJob', {
        job: 'Nightly',
        fullBackup: true,
        retryBackup: false,
      })) as BackupSession;
      f.clock.advance(1000);
      const done = (await f.ok('veeam', 'Get-BackupSession', { sessionId: s.id })) as BackupSession;
      assert.equal(done.result, outcome);
    }
  });

  test('starting a job that has a live session fails already-running and creates no session', async () => {
    const f = await fakeLab(scenario());
    const args = { job: 'Nightly', fullBackup: false, retryBackup: false };
    const first = (await f.ok('veeam', 'Start-BackupJob', args)) as BackupSession;
    f.clock.advance(300);
    const error = errorOf(await f.call('veeam', 'Start-BackupJob', args));
    assert.equal(error.category, 'already-running');
    assert.match(error.message, new RegExp(first.id));
    assert.equal(f.lab.view().counts.sessionsByJob['Nightly'], 1);
    assert.equal((await f.call('veeam', 'Start-BackupJob', { ...args, job: 'Other' })).ok, true, 'other jobs run');
    f.clock.advance(400);
    assert.equal((await f.call('veeam', 'Start-BackupJob', args)).ok, true, 'a finished job starts again');
    assert.equal(f.lab.view().counts.sessionsByJob['Nightly'], 2);
  });

  test('stop: Stopping, then Stopped/Failed; VMs whose task had not started are not snapshotted', async () => {
    const f = await fakeLab(scenario());
    const s = (await f.ok('veeam', 'Start-BackupJob', {
      job: 'Nightly',
      fullBackup: false,
      retryBackup: false,
    })) as BackupSession;
    f.clock.advance(350); // task a done at 300, task b running since 300
    assert.deepEqual(await f.ok('veeam', 'Stop-BackupJob', { job: 'Nightly' }), {
      job: 'Nightly',
      stopRequested: true,
    });
    const stopping = (await f.ok('veeam', 'Get-BackupSession', { sessionId: s.id })) as BackupSession;
    assert.equal(stopping.state, 'Stopping');
    assert.equal(stopping.result, 'None');
    assert.equal(((await f.ok('veeam', 'Get-BackupJob', { job: 'Nightly' })) as BackupJob).isRunning, true);
    assert.equal(
      errorOf(await f.call('veeam', 'Start-BackupJob', { job: 'Nightly', fullBackup: false, retryBackup: false }))
        .category,
      'already-running',
    );

    f.clock.advance(50);
    const stopped = (await f.ok('veeam', 'Get-BackupSession', { sessionId: s.id })) as BackupSession;
    assert.equal(stopped.state, 'Stopped');
    assert.equal(stopped.result, 'Failed');
    assert.deepEqual(
      stopped.tasks.map((t) => [t.vm, t.result]),
      [
        ['a', 'Success'],
        ['b', 'Failed'],
        ['c', 'Failed'],
      ],
    );
    f.clock.advance(5000);
    assert.deepEqual(
      f.lab.verdicts({ sessionId: s.id }).map((v) => v.vm),
      ['a', 'b'],
      'c was never snapshotted',
    );
    assert.equal(f.lab.view().veeam.sessions[0]!.snapshots.find((x) => x.vm === 'c')!.at, null);
    assert.equal(
      (await f.call('veeam', 'Stop-BackupJob', { job: 'Nightly' })).ok,
      true,
      'stopping an idle job is a no-op',
    );
  });

  test('Find-BackupSession returns the newest session created at or after since, or null', async () => {
    const f = await fakeLab(scenario());
    const args = { job: 'Nightly', fullBackup: false, retryBackup: false };
    const before = new Date(f.clock.t).toISOString();
    assert.deepEqual(await f.ok('veeam', 'Find-BackupSession', { job: 'Nightly', since: before }), { session: null });
    const first = (await f.ok('veeam', 'Start-BackupJob', args)) as BackupSession;
    f.clock.advance(1000);
    const middle = new Date(f.clock.t).toISOString();
    const second = (await f.ok('veeam', 'Start-BackupJob', args)) as BackupSession;
    await f.ok('veeam', 'Start-BackupJob', { ...args, job: 'Other' });
    const found = async (since: string) =>
      ((await f.ok('veeam', 'Find-BackupSession', { job: 'Nightly', since })) as { session: BackupSession | null })
        .session;
    assert.equal((await found(before))!.id, second.id, 'newest first');
    assert.equal((await found(first.creationTime))!.id, second.id);
    assert.equal((await found(middle))!.id, second.id, 'created exactly at since counts');
    assert.equal(await found(new Date(f.clock.t + 1).toISOString()), null);
    const bad = errorOf(await f.call('veeam', 'Find-BackupSession', { job: 'Nightly', since: 'yesterday' }));
    assert.equal(bad.category, 'permanent');
    assert.match(bad.message, /since/);
  });

  test('unknown jobs and sessions are permanent errors', async () => {
    const f = await fakeLab(scenario());
    const job = errorOf(await f.call('veeam', 'Get-BackupJob', { job: 'Missing' }));
    assert.equal(job.type, 'JobNotFound');
    assert.equal(job.category, 'permanent');
    assert.match(job.message, /"Missing"/);
    for (const [op, args] of [
      ['Start-BackupJob', { job: 'Missing', fullBackup: false, retryBackup: false }],
      ['Stop-BackupJob', { job: 'Missing' }],
      ['Find-BackupSession', { job: 'Missing', since: new Date(f.clock.t).toISOString() }],
    ] as const) {
      assert.equal(errorOf(await f.call('veeam', op, args as never)).type, 'JobNotFound', op);
    }
    const session = errorOf(await f.call('veeam', 'Get-BackupSession', { sessionId: 'nope' }));
    assert.equal(session.type, 'SessionNotFound');
    assert.equal(session.category, 'permanent');
  });

  test('a Veeam server that is down fails Veeam ops as transient', async () => {
    const f = await fakeLab(scenario());
    f.lab.setVeeamServer(false);
    const error = errorOf(await f.call('veeam', 'Get-BackupJob', { job: 'Nightly' }));
    assert.equal(error.category, 'transient');
    f.lab.setVeeamServer(true);
    assert.equal((await f.call('veeam', 'Get-BackupJob', { job: 'Nightly' })).ok, true);
  });
});
