/**
 * Recorded paths of the restore's terminal outcomes (patch 'restore-terminal-outcomes'), driven as
 * test/integration/restore-outcomes.test.ts drives them:
 *   `<v>-restore-vm-gone` / `-not-accelerated`: a run whose VM was removed from FVP / from its FVP
 *     cluster mid-backup (completed with a warning), and `<v>-guard-vm-gone` / `-not-accelerated`:
 *     that VM's guard, whose restore ended so;
 *   `<v>-restore-handed-over`: a run whose restores kept failing, handed over after
 *     HAND_OVER_AFTER_ATTEMPTS guard attempts (since v8: after timeouts.restoreHandOverAfter,
 *     patch 'hand-over-by-time') (RestoreHandedOver); `<v>-restore-after-hand-over`:
 *     the job's next run, granted the VM while its guard's restore still fails; and
 *     `<v>-guard-handed-over`: that guard, retrying alone, interrupted by the next run's acquire,
 *     restoring at its release (since v8 it also forgets the closed run at the first reply that
 *     fails: patch 'forget-closed-waiters').
 */
import { WorkflowFailedError } from '@temporalio/client';
import { fastRequest, fastVeeam } from '../helpers/harness';
import { sessionsOf } from '../helpers/lab-assertions';
import { guardId, guardState, waitFor } from '../helpers/guard';
import { JOB, scenario } from '../helpers/scenarios';
import { RESTORE_TERMINAL_OUTCOMES } from '../../workflows/restore-policy';
import { FORGET_CLOSED_WAITERS } from '../../workflows/guard/entity';
import { HAND_OVER_BY_TIME } from '../../workflows/guard/holder';
import { statusQuery } from '../../workflows';
import type { GuardMemo } from '../../domain/guard-protocol';
import { check, closedGuard, save, type Recording } from './recording';

/** The VM removed from FVP or its cluster in the gone / not-accelerated recordings. */
const REMOVED = 'web-01';
/** The VM whose guard is recorded retrying alone after the hand-over. */
const HANDED_OVER = 'sql-01';

export async function recordRestoreOutcomes({ h, version, taskQueue }: Recording): Promise<void> {
  const cases = [
    { from: 'fvp', name: 'vm-gone', step: 'gone' },
    { from: 'cluster', name: 'not-accelerated', step: 'not-accelerated' },
  ] as const;
  for (const c of cases) {
    await h.lab.client.loadScenario(scenario({ taskMs: 2500 }));
    const since = Date.now();
    const handle = await h.start(taskQueue, fastRequest(JOB), `replay-${version}-restore-${c.name}`);
    await waitFor('the job to be running', async () =>
      (await sessionsOf(h.lab, JOB)).some((s) => s.state === 'Working' && s.progress > 0),
    );
    await h.lab.client.removeVm(REMOVED, c.from);
    const report = await handle.result();
    const step = report.vms.find((v) => v.vm === REMOVED)?.step;
    check(report.phase === 'completed' && step === c.step, `${c.name}: run ${report.phase}, ${REMOVED} ${step}`);
    const guardRunId = await closedGuard(h, REMOVED, since);
    const memo = (await h.env.client.workflow.getHandle(guardId(REMOVED), guardRunId).describe()).memo as
      GuardMemo | undefined;
    check(memo?.record.phase === c.name, `${c.name}: the guard ended ${memo?.record.phase}`);
    save(h, `${version}-restore-${c.name}.json`, handle.workflowId, undefined, [RESTORE_TERMINAL_OUTCOMES]);
    save(h, `${version}-guard-${c.name}.json`, guardId(REMOVED), guardRunId, [RESTORE_TERMINAL_OUTCOMES]);
  }

  // Every restore fails (switching to write-through is another operation and still works).
  await h.lab.client.loadScenario(scenario({ taskMs: 300 }));
  await h.lab.client.setFaults([{ op: 'Restore-VmCachePolicy', action: 'fail', category: 'transient' }]);
  const since = Date.now();
  const first = await h.start(taskQueue, fastRequest(JOB), `replay-${version}-restore-handed-over`);
  const failure = await first.result().then(
    () => undefined,
    (err: unknown) => err,
  );
  check(
    failure instanceof WorkflowFailedError &&
      (failure.cause as { type?: string } | undefined)?.type === 'RestoreHandedOver',
    `the first run must fail RestoreHandedOver: ${String(failure)}`,
  );
  // The guard keeps trying alone after the run closed.
  const handedOver = await waitFor('the guard to be failing', async () => {
    const s = await guardState(h.env.client, HANDED_OVER);
    return s?.phase === 'restore-failing' ? s : undefined;
  });
  await waitFor('the guard to try again alone', async () => {
    const s = await guardState(h.env.client, HANDED_OVER);
    return s !== undefined && s.restoreAttempts > handedOver.restoreAttempts;
  });
  // The job's next run acquires meanwhile (the failing restore yields to it), holds the VM through
  // its whole session, and its release restores once the fault is gone.
  const next = await h.start(
    taskQueue,
    fastRequest(JOB, { veeam: { ...fastVeeam, release: 'session-end' } }),
    `replay-${version}-restore-after-hand-over`,
  );
  await waitFor('the next run to be backing up', async () => (await next.query(statusQuery)).phase === 'backing-up');
  await h.lab.client.clearFaults();
  const report = await next.result();
  check(report.phase === 'completed', `the next run ended ${report.phase}`);
  const guardRunId = await closedGuard(h, HANDED_OVER, since);
  // Since v8 the run hands over after a time (HAND_OVER_BY_TIME), and the guard's first reply to the
  // closed run fails and it forgets that run (FORGET_CLOSED_WAITERS).
  const v8 = Number(version.slice(1)) >= 8;
  save(h, `${version}-restore-handed-over.json`, first.workflowId, undefined, [
    RESTORE_TERMINAL_OUTCOMES,
    ...(v8 ? [HAND_OVER_BY_TIME] : []),
  ]);
  save(h, `${version}-restore-after-hand-over.json`, next.workflowId, undefined, [RESTORE_TERMINAL_OUTCOMES]);
  save(h, `${version}-guard-handed-over.json`, guardId(HANDED_OVER), guardRunId, [
    RESTORE_TERMINAL_OUTCOMES,
    ...(v8 ? [FORGET_CLOSED_WAITERS] : []),
  ]);
}
