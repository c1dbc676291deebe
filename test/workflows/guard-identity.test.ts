/**
 * The guard's side of identity, not names (issue 10 item 4), without a server: a guard that knows
 * its VM's uuid takes the name an FVP answer gives (a rename), in its state and memo; one that
 * does not (older guards, which address the VM by name) never changes its name; and a name-keyed
 * guard learns the uuid from a run's acquire. Memo updates are captured through the ports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GuardMemo, GuardRequest } from '../../domain/guard-protocol';
import { freshGuardState } from '../../workflows/guard/record';
import { VmGuard } from '../../workflows/guard/state';
import { unitGuardTimeouts } from '../helpers/guard-timeouts';

const UUID = '5021c3f4-1b2a-4c5d-8e9f-0a1b2c3d4e5f';
const timeouts = unitGuardTimeouts;
const acquire = (uuid?: string): GuardRequest => ({
  kind: 'acquire',
  requester: { workflowId: 'protected-backup/Job-1', runId: 'r1', firstRunId: 'f1' },
  job: 'Job-1',
  timeouts,
  ...(uuid === undefined ? {} : { uuid }),
});

function newGuard(uuid?: string) {
  const memos: GuardMemo[] = [];
  const guard = new VmGuard('guard', freshGuardState('sql-01', 'fvp01', uuid), false, {
    reply: () => undefined,
    upsertMemo: (memo) => memos.push(structuredClone(memo)),
  });
  guard.establish();
  return { guard, memos };
}

test('a guard that knows the uuid follows a rename: state and memo take the new name, the uuid stays', () => {
  const { guard, memos } = newGuard(UUID);
  assert.equal(guard.followName('sql-01'), null, 'same name: nothing to follow');
  assert.equal(guard.followName('sql-01-new'), 'sql-01');
  assert.equal(guard.state.vm, 'sql-01-new');
  const memo = memos.at(-1);
  assert.equal(memo?.vm, 'sql-01-new');
  assert.equal(memo?.uuid, UUID);
});

test('a guard without a uuid never changes its name (its calls are by name) and writes no uuid in its memo', () => {
  const { guard, memos } = newGuard();
  assert.equal(guard.followName('other'), null);
  assert.equal(guard.state.vm, 'sql-01');
  guard.syncMemo();
  assert.equal('uuid' in (memos.at(-1) ?? {}), false);
});

test('a name-keyed guard learns its VM uuid from an acquire that carries it, and keeps the first one', () => {
  const { guard } = newGuard();
  guard.receive(acquire());
  guard.drain();
  assert.equal(guard.state.uuid, undefined);
  guard.receive(acquire(UUID));
  guard.drain();
  assert.equal(guard.state.uuid, UUID);
  guard.receive(acquire('another'));
  guard.drain();
  assert.equal(guard.state.uuid, UUID);
});
