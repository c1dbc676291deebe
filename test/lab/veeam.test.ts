import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
/**
 * The lab's Veeam: sessions, tasks, jobs, stop, as the module returns them (raw) and as the worker
 * reads them (activities/vendor/interpret-veeam.ts), on every vendor profile where the raw shape
 * differs (VBR 12 progress as an object, VBR 13 as a number).
 */
import type { Envelope, RawSession, RawValue } from '../../activities/powershell/operations';
import type { BackupJob, BackupSession } from '../../domain/veeam';
import {
  interpretJob,
  interpretSession,
  newestSession,
  sessionAfterStart,
  type StartFacts,
} from '../../activities/vendor/interpret-veeam';
import { NO_END_TIME } from '../../lab/model/raw';
import { PROFILES } from '../../lab/model/profile';
import { fakeLab, type FakeLab } from '../../lab/testing';
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

/** Starts the job and reads the session it created, as the worker does (the module answers with the sessions before). */
async function start(f: FakeLab, args: { job: string } & Record<string, unknown>): Promise<BackupSession> {
  const before = (await f.ok('veeam', 'Start-BackupJob', args as never)) as StartFacts;
  const listed = (await f.ok('veeam', 'Find-BackupSession', { job: args.job, lookup: 'GetByJob' })) as {
    sessions: RawValue[];
  };
  const created = sessionAfterStart(listed.sessions, before, args.job);
  assert.ok(created, 'the start created a session');
  return read(f, created.id);
}

async function read(f: FakeLab, sessionId: string): Promise<BackupSession> {
  const { matches } = (await f.ok('veeam', 'Get-BackupSession', { sessionId })) as { matches: RawSession[] };
  assert.equal(matches.length, 1);
  return interpretSession(matches[0]!, '');
}

async function job(f: FakeLab, name: string): Promise<BackupJob> {
  const raw = interpretJob((await f.ok('veeam', 'Get-BackupJob', { job: name })) as never);
  return { ...raw, isRunning: raw.isRunning as boolean };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('Veeam jobs and sessions', () => {
  test('a session goes Starting -> Working -> Stopped with per-VM tasks and the job outcome', async () => {
    const f = await fakeLab(scenario());
    const t0 = f.clock.t;
    const started = await start(f, {
      job: 'Nightly',
      fullBackup: false,
      retryBackup: false,
    });
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
    const nightly = await job(f, 'Nightly');
    assert.equal(nightly.isRunning, true);
    assert.deepEqual(nightly.vms, ['a', 'b', 'c']);

    f.clock.advance(150);
    const working = await read(f, started.id);
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
    const done = await read(f, started.id);
    assert.equal(done.state, 'Stopped');
    assert.equal(done.result, 'Success');
    assert.equal(done.progress, 100);
    assert.equal(done.endTime, new Date(t0 + 700).toISOString());
    assert.ok(done.tasks.every((t) => t.result === 'Success' && t.progress === 100));
    assert.equal((await job(f, 'Nightly')).isRunning, false);
    assert.equal(f.lab.view().counts.sessionsByJob['Nightly'], 1);
  });

  test('the configured outcome is the result of a session that runs to its end', async () => {
    for (const outcome of ['Warning', 'Failed'] as const) {
      const f = await fakeLab(scenario(outcome));
      const s = await start(f, {
        job: 'Nightly',
        fullBackup: true,
        retryBackup: false,
      });
      f.clock.advance(1000);
      const done = await read(f, s.id);
      assert.equal(done.result, outcome);
    }
  });

  test('starting a job that has a live session fails already-running and creates no session', async () => {
    const f = await fakeLab(scenario());
    const args = { job: 'Nightly', fullBackup: false, retryBackup: false };
    const first = await start(f, args);
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
    const s = await start(f, {
      job: 'Nightly',
      fullBackup: false,
      retryBackup: false,
    });
    f.clock.advance(350); // task a done at 300, task b running since 300
    assert.deepEqual(await f.ok('veeam', 'Stop-BackupJob', { job: 'Nightly' }), {
      job: 'Nightly',
      stopRequested: true,
    });
    const stopping = await read(f, s.id);
    assert.equal(stopping.state, 'Stopping');
    assert.equal(stopping.result, 'None');
    assert.equal((await job(f, 'Nightly')).isRunning, true);
    assert.equal(
      errorOf(await f.call('veeam', 'Start-BackupJob', { job: 'Nightly', fullBackup: false, retryBackup: false }))
        .category,
      'already-running',
    );

    f.clock.advance(50);
    const stopped = await read(f, s.id);
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

  test("Find-BackupSession lists the job's sessions by the lookup (FindLastSession: the newest only); the worker picks the newest", async () => {
    const f = await fakeLab(scenario());
    const args = { job: 'Nightly', fullBackup: false, retryBackup: false };
    const list = async (lookup: 'FindLastSession' | 'GetByJob') =>
      ((await f.ok('veeam', 'Find-BackupSession', { job: 'Nightly', lookup })) as { sessions: RawValue[] }).sessions;
    assert.deepEqual(await list('FindLastSession'), []);
    assert.equal(newestSession(await list('GetByJob'), 'Nightly'), null);
    const first = await start(f, args);
    f.clock.advance(1000);
    const second = await start(f, args);
    await f.ok('veeam', 'Start-BackupJob', { ...args, job: 'Other' });
    assert.equal((await list('FindLastSession')).length, 1);
    assert.equal((await list('GetByJob')).length, 2, 'every session of this job, none of the other');
    for (const lookup of ['FindLastSession', 'GetByJob'] as const) {
      const newest = newestSession(await list(lookup), 'Nightly');
      assert.equal(newest?.id, second.id, `${lookup}: newest`);
      assert.equal(newest?.tasks.length, 0, 'a lookup lists sessions, not their tasks');
    }
    assert.notEqual(first.id, second.id);
  });

  test("unknown jobs are the module's JobNotFound (permanent); an unknown session id reads as no match", async () => {
    const f = await fakeLab(scenario());
    const error = errorOf(await f.call('veeam', 'Get-BackupJob', { job: 'Missing' }));
    assert.equal(error.type, 'JobNotFound');
    assert.equal(error.category, 'permanent');
    assert.match(error.message, /"Missing"/);
    for (const [op, args] of [
      ['Start-BackupJob', { job: 'Missing', fullBackup: false, retryBackup: false }],
      ['Stop-BackupJob', { job: 'Missing' }],
      ['Find-BackupSession', { job: 'Missing' }],
    ] as const) {
      assert.equal(errorOf(await f.call('veeam', op, args as never)).type, 'JobNotFound', op);
    }
    assert.deepEqual(await f.ok('veeam', 'Get-BackupSession', { sessionId: 'nope' }), { matches: [] });
  });

  for (const profile of ['common', 'fvp30-standard-object-vbr13'] as const) {
    test(`raw sessions on ${profile}: progress as Veeam ${PROFILES[profile].veeam} writes it, the 1900 EndTime of a running session`, async () => {
      const f = await fakeLab({ ...scenario(), vendor: PROFILES[profile] });
      const { id } = await start(f, { job: 'Nightly', fullBackup: false, retryBackup: false });
      const raw = ((await f.ok('veeam', 'Get-BackupSession', { sessionId: id })) as { matches: RawSession[] })
        .matches[0]!;
      assert.equal(raw.session['EndTime'], NO_END_TIME, 'a running session has the placeholder');
      assert.equal('Progress.Percents' in raw.session, PROFILES[profile].veeam === '12');
      f.clock.advance(150);
      const { matches } = (await f.ok('veeam', 'Get-BackupSession', { sessionId: raw.session['Id'] as string })) as {
        matches: RawSession[];
      };
      const now = matches[0]!;
      const percentOf = (o: Record<string, unknown>) =>
        PROFILES[profile].veeam === '12' ? o['Progress.Percents'] : o['Progress'];
      const working = interpretSession(now, '');
      assert.equal(working.endTime, null, 'the placeholder reads as no end');
      assert.ok(working.progress > 0);
      assert.equal(working.progress, percentOf(now.session));
      assert.deepEqual(
        working.tasks.map((t) => t.progress),
        now.tasks.map((t) => percentOf(t as Record<string, unknown>)),
      );
    });
  }

  test('a Veeam server that is down fails Veeam ops as transient', async () => {
    const f = await fakeLab(scenario());
    f.lab.setVeeamServer(false);
    const error = errorOf(await f.call('veeam', 'Get-BackupJob', { job: 'Nightly' }));
    assert.equal(error.category, 'transient');
    f.lab.setVeeamServer(true);
    assert.equal((await f.call('veeam', 'Get-BackupJob', { job: 'Nightly' })).ok, true);
  });
});
