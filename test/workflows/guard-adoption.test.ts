/**
 * Successor guards without visibility lag (issue 10 item 6), without a server: a guard that could
 * not see its terminated predecessor took write-through for the VM's own policy; the record a
 * release or the reconciler carries makes it give the write-back back at the end of the hold, and
 * its memo names the run whose record it took over (`adoptedFrom`), which the reconciler reads.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adoptedFromRelease,
  type CarriedRecord,
  type GuardMemo,
  type GuardRequest,
  type Holder,
  type Requester,
} from '../../domain/guard-protocol';
import type { FlushState, VmPolicy } from '../../domain/policy';
import { freshGuardState, type Outcome } from '../../workflows/guard/record';
import type { ReplyBody } from '../../workflows/guard/answers';
import { VmGuard } from '../../workflows/guard/state';
import { unitGuardTimeouts } from '../helpers/guard-timeouts';

const timeouts = unitGuardTimeouts;
const run = (n: number): Requester => ({
  workflowId: `protected-backup/Job-${n}`,
  runId: `r${n}`,
  firstRunId: `f${n}`,
});
const writeBack = { mode: 'WriteBack', peers: 1, externalPeers: null } as const;
const writeThrough = { mode: 'WriteThrough', peers: 0, externalPeers: null } as const;
const policy = (requested: VmPolicy['requested']): VmPolicy => ({
  vm: 'sql-01',
  uuid: 'u-1',
  accelerated: true,
  requested,
  effective: requested.mode,
});
const flushed: FlushState = {
  vm: 'sql-01',
  requested: writeThrough,
  effective: 'WriteThrough',
  timeToDestageSeconds: 0,
};
const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
/** The record the terminated guard A granted run 1 under. */
const granted: CarriedRecord = { recorded: writeBack, alreadyWriteThrough: false };
const holderOf = (n: number): Holder => ({
  ...run(n),
  job: `Job-${n}`,
  since: '2026-01-01T00:00:00.000Z',
  granted: true,
});

function newGuard() {
  const replies: { to: string; message: ReplyBody }[] = [];
  const memos: GuardMemo[] = [];
  const guard = new VmGuard('vm-guard/fvp01/sql-01', freshGuardState('sql-01', 'fvp01'), false, {
    reply: (to: Requester | Holder, message) => replies.push({ to: to.workflowId, message }),
    upsertMemo: (memo) => memos.push(structuredClone(memo)),
  });
  return { guard, replies, memos };
}

/**
 * Guard B: it could not see A (visibility lag), found the VM in write-through and took it for the
 * VM's own policy; run 2 holds it (granted: already write-through, flushed).
 */
function blindSuccessor() {
  const g = newGuard();
  g.guard.receive({ kind: 'acquire', requester: run(2), job: 'Job-2', timeouts });
  assert.equal(g.guard.decideRecord(ok(null), ok(policy(writeThrough))), 'recorded');
  g.guard.establish();
  g.guard.drain();
  assert.equal(g.guard.flushRead(flushed), true);
  assert.equal(g.guard.state.alreadyWriteThrough, true);
  assert.equal(g.guard.owesRestore, false);
  return g;
}

describe('vmGuard: adopting carried records after recording', () => {
  test("a release from a predecessor's holder makes a blind guard owe the write-back, restored only at the end of the hold", () => {
    const { guard, replies, memos } = blindSuccessor();
    guard.receive({ kind: 'release', requester: run(1), record: granted });
    guard.drain();
    assert.deepEqual(guard.state.recorded, writeBack, 'the carried record is what the end of the hold gives back');
    assert.equal(guard.state.alreadyWriteThrough, false);
    assert.equal(guard.owesRestore, true);
    assert.equal(guard.state.adoptedFrom, adoptedFromRelease(run(1)));
    // Run 2 still holds the VM: nothing is restored under it, and run 1 is told so, not "left alone".
    assert.equal(guard.isProtecting(), true);
    assert.equal(guard.needsProtectRound(), false, 'no switch: the VM stays in write-through as it is');
    const toRun1 = replies.filter((r) => r.to === run(1).workflowId).map((r) => r.message);
    assert.deepEqual(toRun1, [
      { kind: 'released', restored: false, leftAlone: false, holders: 1, policy: null, restoreAttempts: 0 },
    ]);
    assert.equal(memos.at(-1)?.record.adoptedFrom, adoptedFromRelease(run(1)));
    assert.equal(memos.at(-1)?.record.writeThrough, true, 'a successor of this guard would owe the restore too');
    // Run 2's release ends the hold: a waiter for the restore (endHold restores when the restore is owed).
    guard.receive({
      kind: 'release',
      requester: run(2),
      record: { recorded: writeThrough, alreadyWriteThrough: true },
    });
    guard.drain();
    assert.equal(guard.state.holders.length, 0);
    assert.deepEqual(guard.state.waiters, [{ kind: 'release', requester: run(2) }]);
    assert.deepEqual(guard.state.recorded, writeBack);
  });

  test("a release from one of the guard's own holders, or a record without a write-back, changes nothing", () => {
    const own = blindSuccessor();
    own.guard.receive({ kind: 'acquire', requester: run(3), job: 'Job-3', timeouts });
    own.guard.drain();
    own.guard.receive({ kind: 'release', requester: run(3), record: granted });
    own.guard.drain();
    assert.equal(own.guard.state.alreadyWriteThrough, true);
    assert.equal(own.guard.owesRestore, false);
    assert.equal(own.guard.state.adoptedFrom, null);

    const wt = blindSuccessor();
    wt.guard.receive({
      kind: 'release',
      requester: run(1),
      record: { recorded: writeThrough, alreadyWriteThrough: true },
    });
    wt.guard.drain();
    assert.equal(wt.guard.owesRestore, false);
    assert.equal(wt.guard.state.adoptedFrom, null);
  });

  test("a reconcile carrying a closed run's record: adopted with its holders and jobs, named in the memo, answered held", () => {
    const { guard, replies, memos } = blindSuccessor();
    guard.receive({
      kind: 'reconcile',
      requester: run(9),
      timeouts,
      record: { ...granted, fromRunId: 'run-A', holders: [holderOf(1)], abandonedJobs: ['Job-0'] },
    });
    guard.drain();
    assert.deepEqual(guard.state.recorded, writeBack);
    assert.equal(guard.owesRestore, true);
    assert.equal(guard.state.adoptedFrom, 'run-A');
    assert.deepEqual(
      guard.state.holders.map((h) => h.workflowId),
      [run(2).workflowId, run(1).workflowId],
      "A's holder is adopted: checked before anything is restored",
    );
    assert.deepEqual(guard.state.abandonedJobs, ['Job-0']);
    assert.equal(guard.checkRequested, true);
    assert.equal(memos.at(-1)?.record.adoptedFrom, 'run-A');
    guard.answerReconcilesWhileHeld();
    assert.deepEqual(
      replies
        .filter((r) => r.to === run(9).workflowId)
        .map((r) => r.message.kind === 'reconciled' && r.message.outcome),
      ['held'],
    );
  });

  test('a guard whose own record gives a write-back back answers for a reconciled record without adopting it', () => {
    const g = newGuard();
    g.guard.receive({ kind: 'acquire', requester: run(2), job: 'Job-2', timeouts });
    const other = { mode: 'WriteBack', peers: 2, externalPeers: null } as const;
    assert.equal(g.guard.decideRecord(ok(null), ok(policy(other))), 'recorded');
    g.guard.establish();
    g.guard.drain();
    g.guard.receive({
      kind: 'reconcile',
      requester: run(9),
      timeouts,
      record: { ...granted, fromRunId: 'run-A', holders: [holderOf(1)], abandonedJobs: ['Job-0'] },
    });
    g.guard.drain();
    assert.deepEqual(g.guard.state.recorded, other, 'its own record stays');
    assert.equal(g.guard.state.adoptedFrom, 'run-A');
    assert.deepEqual(
      g.guard.state.holders.map((h) => h.workflowId),
      [run(2).workflowId, run(1).workflowId],
      "A's holder is kept safe: its end of the hold waits for it too",
    );
    assert.deepEqual(g.guard.state.abandonedJobs, ['Job-0']);
    assert.equal(g.memos.at(-1)?.record.adoptedFrom, 'run-A');
  });

  test('a fresh guard names the reconciled run: adopted in write-through, in place when the VM is back, gone with the VM', () => {
    const reconcile = (): GuardRequest => ({
      kind: 'reconcile',
      requester: run(9),
      timeouts,
      record: { ...granted, fromRunId: 'run-A', holders: [holderOf(1)], abandonedJobs: [] },
    });
    const adopting = newGuard();
    adopting.guard.receive(reconcile());
    assert.equal(adopting.guard.decideRecord(ok(null), ok(policy(writeThrough))), 'recorded');
    assert.equal(adopting.guard.state.adoptedFrom, 'run-A');
    assert.equal(adopting.guard.owesRestore, true);
    assert.deepEqual(
      adopting.guard.state.holders.map((h) => h.workflowId),
      [run(1).workflowId],
      'the closed run holders are checked before the restore',
    );
    assert.deepEqual(adopting.guard.state.abandonedJobs, []);
    adopting.guard.establish();
    adopting.guard.syncMemo();
    assert.equal(adopting.memos.at(-1)?.record.adoptedFrom, 'run-A');

    // Back in write-back already: nothing to restore ('in-place'), and still the run is named, or
    // the reconciler would send its record again at every pass.
    const back = newGuard();
    back.guard.receive(reconcile());
    assert.equal(back.guard.decideRecord(ok(null), ok(policy(writeBack))), 'recorded');
    assert.equal(back.guard.owesRestore, false);
    assert.equal(back.guard.state.adoptedFrom, 'run-A');

    const gone = newGuard();
    gone.guard.receive(reconcile());
    assert.equal(gone.guard.decideRecord(ok(null), ok(null)), 'unknown-vm');
    assert.equal(gone.guard.state.adoptedFrom, 'run-A');

    // A release's record (no run named) adopted by a fresh guard is marked as such.
    const released = newGuard();
    released.guard.receive({ kind: 'release', requester: run(1), record: granted });
    assert.equal(released.guard.decideRecord(ok(null), ok(policy(writeThrough))), 'recorded');
    assert.equal(released.guard.state.adoptedFrom, adoptedFromRelease(run(1)));
  });

  test('the memo says adoptedFrom null when nothing was adopted (memos without the field are older code)', () => {
    const { memos } = blindSuccessor();
    assert.equal(memos.at(-1)?.record.adoptedFrom, null);
  });
});
