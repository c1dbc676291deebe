/**
 * The per-VM guard's state class, without a server: one test per kind of request and event, and
 * what continue-as-new carries over. Replies and memo updates are captured through its ports.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClosedGuard } from '../../activities/vm-guard';
import type { GuardMemo, GuardRequest, Holder, Requester } from '../../domain/guard-protocol';
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
const acquire = (n: number, t = timeouts): GuardRequest => ({
  kind: 'acquire',
  requester: run(n),
  job: `Job-${n}`,
  timeouts: t,
});
const release = (n: number): GuardRequest => ({ kind: 'release', requester: run(n) });
const writeBack = { mode: 'WriteBack', peers: 1, externalPeers: null } as const;
const policy = (requested: VmPolicy['requested']): VmPolicy => ({
  vm: 'sql-01',
  uuid: 'u-1',
  accelerated: true,
  requested,
  effective: requested.mode,
});
const flushed: FlushState = {
  vm: 'sql-01',
  requested: { mode: 'WriteThrough', peers: 0, externalPeers: null },
  effective: 'WriteThrough',
  timeToDestageSeconds: 0,
};
const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });

function newGuard(carried?: ReturnType<typeof freshGuardState>) {
  const replies: { to: string; message: ReplyBody }[] = [];
  const memos: GuardMemo[] = [];
  const guard = new VmGuard('vm-guard/fvp01/sql-01', carried ?? freshGuardState('sql-01', 'fvp01'), !!carried, {
    reply: (to: Requester | Holder, message) => replies.push({ to: to.workflowId, message }),
    upsertMemo: (memo) => memos.push(structuredClone(memo)),
  });
  return { guard, replies, memos };
}

/** A guard that recorded write-back, switched and verified the flush for holder 1. */
function protectedGuard() {
  const g = newGuard();
  g.guard.receive(acquire(1));
  assert.equal(g.guard.decideRecord(ok(null), ok(policy(writeBack))), 'recorded');
  g.guard.establish();
  g.guard.drain();
  g.guard.switching();
  g.guard.switched(policy({ mode: 'WriteThrough', peers: 0, externalPeers: null }));
  assert.equal(g.guard.flushRead(flushed), true);
  return g;
}

describe('vmGuard state', () => {
  test('acquire: a new holder is recorded with its timeouts and granted once the flush is verified', () => {
    const { guard, replies, memos } = protectedGuard();
    assert.equal(guard.state.holders.length, 1);
    assert.deepEqual(guard.state.timeouts, timeouts);
    assert.equal(guard.owesRestore, true);
    assert.deepEqual(
      replies.map((r) => r.message.kind),
      ['granted'],
    );
    const granted = replies[0]?.message;
    assert.ok(granted?.kind === 'granted');
    assert.deepEqual(granted.recorded, writeBack);
    // The memo says write-through is owed before anything else could happen.
    assert.ok(memos.some((m) => m.record.writeThrough && m.record.phase === 'switching'));
  });

  test('acquire resent by a granted holder is answered again; a later holder waits for a verified round', () => {
    const { guard, replies } = protectedGuard();
    guard.receive(acquire(1));
    guard.receive(acquire(2, { ...timeouts, stepMs: 1 }));
    guard.drain();
    assert.deepEqual(
      replies.map((r) => [r.to, r.message.kind]),
      [
        ['protected-backup/Job-1', 'granted'],
        ['protected-backup/Job-1', 'granted'],
      ],
    );
    assert.equal(guard.state.timeouts?.stepMs, timeouts.stepMs, "a later holder does not change the hold's timeouts");
    assert.equal(guard.needsProtectRound(), true);
    guard.flushRead(flushed);
    assert.equal(replies.at(-1)?.to, 'protected-backup/Job-2');
  });

  test('release: while others hold, answered at once and nothing restored; the last one waits for the restore', () => {
    const { guard, replies } = protectedGuard();
    guard.receive(acquire(2));
    guard.drain();
    guard.flushRead(flushed);
    guard.receive(release(1));
    guard.drain();
    const answer = replies.at(-1)?.message;
    assert.ok(answer?.kind === 'released');
    assert.equal(answer.restored, false);
    assert.equal(answer.holders, 1);
    guard.receive(release(2));
    guard.receive(release(2)); // resent: one waiter only
    guard.drain();
    assert.equal(guard.state.holders.length, 0);
    assert.equal(guard.state.waiters.length, 1);
    guard.restoreAttempt();
    guard.restored({ kind: 'restored', policy: policy(writeBack) });
    guard.answerWaiters(true);
    const last = replies.at(-1)?.message;
    assert.ok(last?.kind === 'released');
    assert.equal(last.restored, true);
    assert.deepEqual(last.policy?.requested, writeBack);
    assert.equal(guard.owesRestore, false);
  });

  test('a waiter whose reply could not be delivered is answered no more; the restore stays owed; a resent release waits again', () => {
    const { guard, replies } = protectedGuard();
    guard.receive(acquire(2));
    guard.drain();
    guard.flushRead(flushed);
    guard.receive(release(1));
    guard.receive(release(2));
    guard.drain();
    assert.equal(guard.state.waiters.length, 1, 'the last release waits for the restore');
    guard.forgetWaiter(run(1)); // not a waiter: nothing changes
    assert.equal(guard.state.waiters.length, 1);

    guard.restoreAttempt();
    guard.restoreFailed('management server unreachable');
    assert.equal(replies.filter((r) => r.to === run(2).workflowId && r.message.kind === 'restore-failing').length, 1);
    guard.forgetWaiter(run(2)); // that reply failed: run 2 has closed
    assert.deepEqual(guard.state.waiters, []);
    assert.equal(guard.owesRestore, true, 'the restore is still owed');
    const before = replies.length;
    guard.restoreAttempt();
    guard.restoreFailed('management server unreachable');
    assert.equal(replies.length, before, 'nobody left to tell');

    // A run reset under the same workflow id resends its release: it waits again and hears the end.
    guard.receive(release(2));
    guard.drain();
    guard.restoreAttempt();
    guard.restored({ kind: 'restored', policy: policy(writeBack) });
    guard.answerWaiters(true);
    const last = replies.at(-1);
    assert.equal(last?.to, run(2).workflowId);
    assert.ok(last?.message.kind === 'released');
    assert.equal(last.message.restored, true);
  });

  test("release: a restore that finds someone else's change keeps it and says so, never overwrites", () => {
    const { guard, replies } = protectedGuard();
    guard.receive(release(1));
    guard.drain();
    guard.restored({ kind: 'changed-by-someone-else', message: 'VM has requested policy WriteBack/2' });
    guard.answerWaiters(true);
    const answer = replies.at(-1)?.message;
    assert.ok(answer?.kind === 'released');
    assert.equal(answer.restored, false);
    assert.match(String(answer.keptChange), /WriteBack\/2/);
    assert.equal(guard.owesRestore, false, 'the guard no longer owes a restore: the VM is not in its write-through');
  });

  for (const kind of ['vm-gone', 'not-accelerated'] as const) {
    test(`release: a restore that ends as ${kind} answers released, not restored, says why, and keeps it as the phase`, () => {
      const { guard, replies, memos } = protectedGuard();
      guard.receive(release(1));
      guard.receive({ kind: 'reconcile', requester: run(9), timeouts });
      guard.drain();
      guard.restoreAttempt();
      guard.restored({ kind, message: `VM "sql-01": ${kind}` });
      guard.answerWaiters(true);
      const answer = replies.filter((r) => r.to === run(1).workflowId).at(-1)?.message;
      assert.ok(answer?.kind === 'released');
      assert.equal(answer.restored, false);
      assert.equal(answer.outcome, kind);
      assert.equal(answer.keptChange, undefined);
      const reconciled = replies.find((r) => r.to === run(9).workflowId)?.message;
      assert.ok(reconciled?.kind === 'reconciled');
      assert.equal(reconciled.outcome, 'unknown-vm', 'nothing left to restore on FVP');
      assert.equal(guard.owesRestore, false, 'nothing left in write-through on FVP: the hold is over');
      assert.match(String(guard.state.lastError), new RegExp(kind));
      guard.idle();
      assert.equal(guard.state.phase, kind);
      assert.equal(memos.at(-1)?.record.phase, kind, 'the memo (and the phase search attribute) shows it');
      assert.equal(memos.at(-1)?.record.writeThrough, false);
      // The next hold starts from scratch: a later restore answers without the outcome.
      guard.receive(acquire(2));
      guard.drain();
      guard.switching();
      guard.receive(release(2));
      guard.drain();
      guard.restored({ kind: 'restored', policy: policy(writeBack) });
      guard.answerWaiters(true);
      const later = replies.at(-1)?.message;
      assert.ok(later?.kind === 'released');
      assert.equal(later.restored, true);
      assert.equal(later.outcome, undefined);
    });
  }

  test('reconcile: asks for a holder check; answered "held" while a holder lives, "restored" after', () => {
    const { guard, replies } = protectedGuard();
    guard.checkRequested = false;
    guard.receive({ kind: 'reconcile', requester: run(9), timeouts });
    guard.drain();
    assert.equal(guard.checkRequested, true);
    guard.answerReconcilesWhileHeld();
    const held = replies.at(-1)?.message;
    assert.ok(held?.kind === 'reconciled');
    assert.equal(held.outcome, 'held');
    guard.receive({ kind: 'reconcile', requester: run(9), timeouts });
    guard.drain();
    guard.dropClosedHolders([{ workflowId: run(1).workflowId, firstRunId: 'f1', alive: false, status: 'TERMINATED' }]);
    guard.answerReconcilesWhileHeld(); // nobody holds it now: the reconcile waits for the end of the hold
    guard.restored({ kind: 'restored', policy: policy(writeBack) });
    guard.answerWaiters(true);
    const done = replies.at(-1)?.message;
    assert.ok(done?.kind === 'reconciled');
    assert.equal(done.outcome, 'restored');
  });

  test("the worker's guard timeouts are the ones in force: a run's tiny timeouts change nothing", () => {
    const { guard } = newGuard();
    const workerTimeouts = { ...timeouts, stepMs: 60_000, retryMaximumAttempts: 10 };
    guard.useSettings({
      fvpServer: 'fvp01',
      holderCheckIntervalMs: 1000,
      resendIntervalMs: 1000,
      historyLimit: 2000,
      timeouts: workerTimeouts,
    });
    guard.receive(acquire(1, { ...timeouts, stepMs: 1, retryMaximumAttempts: 1 }));
    guard.receive({ kind: 'reconcile', requester: run(9), timeouts: { ...timeouts, stepMs: 2 } });
    guard.drain();
    assert.deepEqual(guard.timeouts(), workerTimeouts);
    assert.deepEqual(guard.state.timeouts, workerTimeouts, 'the state query shows the timeouts in force');
  });

  test('check: only asks for a holder check; a malformed request is counted and dropped', () => {
    const { guard } = newGuard();
    guard.receive({ kind: 'check' });
    guard.receive({ kind: 'acquire', requester: { workflowId: '' } });
    guard.drain();
    assert.equal(guard.checkRequested, true);
    assert.equal(guard.state.counts.rejectedMessages, 1);
    assert.equal(guard.state.holders.length, 0);
  });

  test('a holder that closed after its grant is dropped and leaves its job to wait for', () => {
    const { guard } = protectedGuard();
    const dropped = guard.dropClosedHolders([
      { workflowId: run(1).workflowId, firstRunId: 'f1', alive: false, status: 'TERMINATED' },
    ]);
    assert.equal(dropped.length, 1);
    assert.deepEqual(guard.state.abandonedJobs, ['Job-1']);
    assert.equal(guard.state.counts.droppedHolders, 1);
  });

  test('recording: a predecessor that left write-through is adopted; an unknown VM and unreadable FVP are said', () => {
    const predecessor: ClosedGuard = {
      guardId: 'vm-guard/fvp01/sql-01',
      runId: 'old',
      status: 'TERMINATED',
      closedAt: null,
      memo: {
        kind: 'vm-guard',
        vm: 'sql-01',
        fvpServer: 'fvp01',
        record: {
          recorded: writeBack,
          alreadyWriteThrough: false,
          writeThrough: true,
          holders: [{ ...run(3), job: 'Job-3', since: '', granted: true }],
          abandonedJobs: ['Job-3'],
          phase: 'protected',
        },
      },
    };
    const adopting = newGuard().guard;
    const current = ok(policy({ mode: 'WriteThrough', peers: 0, externalPeers: null }));
    assert.equal(adopting.decideRecord(ok(predecessor), current), 'recorded');
    assert.deepEqual(adopting.state.recorded, writeBack, 'the recorded policy, never "write-through"');
    assert.equal(adopting.owesRestore, true);
    assert.equal(adopting.state.adoptedFrom, 'old');
    assert.deepEqual(adopting.state.abandonedJobs, ['Job-3']);

    assert.equal(newGuard().guard.decideRecord(ok(null), ok(null)), 'unknown-vm');
    const failure: Outcome<VmPolicy | null> = { ok: false, error: new Error('FVP down') };
    assert.equal(newGuard().guard.decideRecord(ok(null), failure), 'undecided');
    // Write-through now and no answer about predecessors: it may be one's leftover; do not record it.
    const noVisibility: Outcome<ClosedGuard | null> = { ok: false, error: new Error('visibility') };
    assert.equal(newGuard().guard.decideRecord(noVisibility, current), 'undecided');
  });

  test('a successor that cannot see its terminated predecessor yet adopts the record a release carries', () => {
    const writeThroughNow = ok(policy({ mode: 'WriteThrough', peers: 0, externalPeers: null }));
    // Without the carried record, "write-through now and no predecessor" reads as the VM's own policy.
    const blind = newGuard().guard;
    blind.receive(release(1));
    assert.equal(blind.decideRecord(ok(null), writeThroughNow), 'recorded');
    assert.equal(blind.state.alreadyWriteThrough, true);
    assert.equal(blind.owesRestore, false);
    // With it, the successor owes the VM exactly the record it was granted under.
    const { guard } = newGuard();
    guard.receive({ ...release(1), record: { recorded: writeBack, alreadyWriteThrough: false } });
    assert.equal(guard.decideRecord(ok(null), writeThroughNow), 'recorded');
    assert.deepEqual(guard.state.recorded, writeBack);
    assert.equal(guard.state.alreadyWriteThrough, false);
    assert.equal(guard.owesRestore, true);
    // A VM already back in write-back is recorded as it is: nothing to restore.
    const back = newGuard().guard;
    back.receive({ ...release(1), record: { recorded: writeBack, alreadyWriteThrough: false } });
    assert.equal(back.decideRecord(ok(null), ok(policy(writeBack))), 'recorded');
    assert.equal(back.owesRestore, false);
  });

  test('continue-as-new carries the state: holders, unprocessed requests, and a holder check at once', () => {
    const { guard } = protectedGuard();
    guard.receive(release(1)); // arrived, not processed yet
    const carried = structuredClone(guard.state);
    const next = newGuard(carried);
    assert.equal(next.guard.checkRequested, true);
    assert.equal(next.guard.isEstablished, true);
    assert.equal(next.guard.owesRestore, true);
    next.guard.drain();
    assert.equal(next.guard.state.holders.length, 0);
    assert.equal(next.guard.state.waiters.length, 1, 'the carried release waits for the restore');
    assert.deepEqual(next.guard.state.recorded, writeBack);
  });
});
