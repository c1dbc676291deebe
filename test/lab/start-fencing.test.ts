/**
 * Start-BackupJob is fenced: it starts only while the job's newest session is still the fence the
 * caller took. And a started session may take a while to show up in lookups (a busy VBR server):
 * the lab's session-appearance delay, during which the job is running but no session is seen.
 * Like the module, the lab answers a start with the sessions listed before it, and waits for
 * nothing: the worker looks for the new session (activities/veeam.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Envelope, RawSession, RawValue } from '../../activities/powershell/operations';
import type { BackupSession } from '../../domain/veeam';
import {
  interpretJob,
  interpretSession,
  newestSession,
  sessionAfterStart,
  type StartFacts,
} from '../../activities/vendor/interpret-veeam';
import { fakeLab } from '../../lab/testing';
import type { ScenarioInput } from '../../lab/scenario';

function scenario(job: object = {}, veeam: object = {}): ScenarioInput {
  return {
    fvp: { vms: [{ name: 'a' }, { name: 'b' }] },
    veeam: {
      ...veeam,
      jobs: [{ name: 'Nightly', vms: ['a', 'b'], startDelayMs: 100, taskMs: 200, stopDelayMs: 50, ...job }],
    },
  };
}

const start = { job: 'Nightly', fullBackup: false, retryBackup: false };

function errorOf(envelope: Envelope) {
  if (envelope.ok) assert.fail(`expected an error envelope, got ${JSON.stringify(envelope)}`);
  return envelope.error;
}

/** The module's answers are raw: read them as the worker does (activities/vendor/interpret-veeam.ts). */
async function newest(f: Awaited<ReturnType<typeof fakeLab>>): Promise<BackupSession | null> {
  const found = (await f.ok('veeam', 'Find-BackupSession', { job: 'Nightly' })) as { sessions: RawValue[] };
  return newestSession(found.sessions, 'Nightly');
}

/** Starts the job and reads the session it created, as the worker does. */
async function started(f: Awaited<ReturnType<typeof fakeLab>>, args: object): Promise<BackupSession> {
  const start = (await f.ok('veeam', 'Start-BackupJob', args as never)) as StartFacts;
  const found = (await f.ok('veeam', 'Find-BackupSession', { job: 'Nightly', lookup: 'GetByJob' })) as {
    sessions: RawValue[];
  };
  const session = sessionAfterStart(found.sessions, start, 'Nightly');
  assert.ok(session, 'the new session is listed');
  return session;
}

async function isRunning(f: Awaited<ReturnType<typeof fakeLab>>): Promise<boolean | null> {
  return interpretJob((await f.ok('veeam', 'Get-BackupJob', { job: 'Nightly' })) as never).isRunning;
}

describe('fenced start', () => {
  test('a null fence starts a job that never ran; the same fence then refuses fence-moved', async () => {
    const f = await fakeLab(scenario());
    const first = await started(f, { ...start, fence: null });
    f.clock.advance(1000);
    const error = errorOf(await f.call('veeam', 'Start-BackupJob', { ...start, fence: null }));
    assert.equal(error.category, 'fence-moved');
    assert.equal(error.type, 'FenceMoved');
    assert.match(error.message, new RegExp(first.id));
    assert.equal(f.lab.view().counts.sessionsByJob['Nightly'], 1, 'nothing was started');
  });

  test('the fence of the newest session starts; a stale fence refuses even when the job is idle', async () => {
    const f = await fakeLab(scenario());
    const first = await started(f, start);
    f.clock.advance(1000);
    const second = await started(f, { ...start, fence: first.id });
    assert.notEqual(second.id, first.id);
    f.clock.advance(1000);
    // A stale attempt that still holds the first fence: the job ran since, it must not run again.
    const error = errorOf(await f.call('veeam', 'Start-BackupJob', { ...start, fence: first.id }));
    assert.equal(error.category, 'fence-moved');
    assert.equal(f.lab.view().counts.sessionsByJob['Nightly'], 2);
  });

  test('without a fence the start is unconditional (an operator starting the job)', async () => {
    const f = await fakeLab(scenario());
    await f.ok('veeam', 'Start-BackupJob', start);
    f.clock.advance(1000);
    await f.ok('veeam', 'Start-BackupJob', start);
    assert.equal(f.lab.view().counts.sessionsByJob['Nightly'], 2);
  });

  test('fence-moved is checked before already-running: a live foreign session after the fence is a moved fence', async () => {
    const f = await fakeLab(scenario());
    await f.ok('veeam', 'Start-BackupJob', start);
    const error = errorOf(await f.call('veeam', 'Start-BackupJob', { ...start, fence: null }));
    assert.equal(error.category, 'fence-moved');
  });
});

describe('session-appearance delay', () => {
  test('a started session is invisible to lookups for the delay, while the job is running and its tasks go on', async () => {
    const f = await fakeLab(scenario({ sessionAppearDelayMs: 1000 }));
    const t0 = f.clock.t;
    assert.deepEqual(await f.ok('veeam', 'Start-BackupJob', { ...start, fence: null }), { before: [] });
    assert.equal(f.clock.t, t0, "the start answers at once: looking for the session is the worker's");

    assert.equal(await newest(f), null, 'Find-BackupSession sees nothing yet');
    assert.equal(await isRunning(f), true, 'IsRunning: the job itself knows');
    const [hidden] = f.lab.view().veeam.sessions;
    assert.ok(hidden);
    assert.deepEqual(
      await f.ok('veeam', 'Get-BackupSession', { sessionId: hidden.id }),
      { matches: [] },
      'not found yet',
    );

    // A retry that sees no session yet still cannot start a second one: the job is running.
    assert.equal(
      errorOf(await f.call('veeam', 'Start-BackupJob', { ...start, fence: null })).category,
      'already-running',
    );

    f.clock.advance(500); // both tasks over: a verdict is given once its VM's read is
    assert.equal(f.lab.verdicts({ sessionId: hidden.id }).length, 2, 'both VMs snapshotted while invisible');
    f.clock.t = t0 + 999;
    assert.equal(await newest(f), null);
    f.clock.t = t0 + 1000;
    const seen = await newest(f);
    assert.equal(seen?.id, hidden.id);
    assert.equal(seen?.creationTime, new Date(t0).toISOString(), 'created at the start, not when it appeared');
    const read = (await f.ok('veeam', 'Get-BackupSession', { sessionId: hidden.id })) as { matches: RawSession[] };
    assert.equal(interpretSession(read.matches[0]!, 'Nightly').id, hidden.id);
    assert.equal(f.lab.view().counts.sessionsByJob['Nightly'], 1);
  });

  test('Start-BackupJob answers with the ids the lookup listed before the start, chooses nothing, waits for nothing', async () => {
    const f = await fakeLab(scenario({ sessionAppearDelayMs: 300 }));
    const idOfLast = () => f.lab.view().veeam.sessions.at(-1)!.id;
    await f.ok('veeam', 'Start-BackupJob', start);
    const first = { id: idOfLast() };
    f.clock.advance(1000);
    await f.ok('veeam', 'Start-BackupJob', { ...start, fence: first.id });
    const second = { id: idOfLast() };
    f.clock.advance(1000);
    const t0 = f.clock.t;
    const answer = await f.ok('veeam', 'Start-BackupJob', { ...start, lookup: 'GetByJob', fence: second.id });
    assert.deepEqual(answer, { before: [first.id, second.id] }, 'every session GetByJob lists');
    assert.equal(f.clock.t, t0, 'no wait in the start');
    assert.equal((await newest(f))?.id, second.id, 'the new session is not listed yet');
    f.clock.advance(1000);
    const third = idOfLast();
    const last = await f.ok('veeam', 'Start-BackupJob', { ...start, lookup: 'FindLastSession', fence: third });
    assert.deepEqual(last, { before: [third] }, 'FindLastSession lists the newest only');
  });

  test('Stop-BackupJob stops a session lookups do not show yet', async () => {
    const f = await fakeLab(scenario({ sessionAppearDelayMs: 5000, startDelayMs: 2000 }));
    await f.ok('veeam', 'Start-BackupJob', start);
    f.clock.advance(100);
    await f.ok('veeam', 'Stop-BackupJob', { job: 'Nightly' });
    f.clock.advance(100);
    assert.equal(await isRunning(f), false);
    f.clock.advance(10_000);
    const [session] = f.lab.view().veeam.sessions;
    assert.equal(session?.state, 'Stopped');
    assert.deepEqual(f.lab.verdicts({ sessionId: session!.id }), [], 'stopped before any snapshot');
  });
});
