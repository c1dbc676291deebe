/**
 * reconcilePolicies: the out-of-band cleanup that Terminate and workflow timeouts make necessary.
 * Run by a Temporal Schedule (client/guard/reconciler-schedule.ts, overlap SKIP) or by hand.
 *
 * Runs that close without cleaning up are the per-VM guards' business (they drop holders that no
 * longer run and restore after the last one). What is left is a guard that was itself terminated
 * (or timed out) while its VM was in write-through, and that nobody asks for any more: its recorded
 * policy survives in its memo, which Temporal keeps on the closed execution. This workflow lists
 * such guards (visibility: `WorkflowType = 'vmGuard' AND ExecutionStatus IN (...)`, newest run of
 * each id only, this worker's FVP server only) and, for each, sends `reconcile` to the guard's id:
 * signal-with-start creates a successor, which adopts the closed run's record, checks its holders,
 * waits for the jobs of holders that died mid-backup, restores the recorded policy (verified) and
 * answers. The restore itself is the guard's, never this workflow's: the guard is the only writer
 * of its VM's policy, so a run acquiring the VM at the same moment cannot race a reconciliation.
 *
 * Idempotent: the guard that takes a closed run's record over (a fresh successor, or a running one
 * that could not see it) names that run in its memo (`adoptedFrom`), also when the VM was back
 * already, and the run is not listed again (activities/reconcile.ts). `dryRun` only reads and
 * reports (current policy, live holders).
 */
import { condition, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import { z } from 'zod';
import type { UnrestoredGuard } from '../activities/reconcile';
import { boundedDuration, durationMs, MINUTE, SECOND } from '../domain/duration';
import { GuardReply, vmGuardReplySignal, type Requester } from '../domain/guard-protocol';
import { samePolicy, type RequestedPolicy } from '../domain/policy';
import {
  GUARD_REQUESTS_AS_ACTIVITIES,
  localReconcilerMessengers,
  reconcilerLookups,
  reconcilerMessengers,
  stepProxies,
  vmGuardSettings,
} from './activity-proxies';
import { messageOf } from './failures';
import { eventBase, sendNotification } from './notifications';
import { ProtectedBackupInput } from './input';
import { settleWithLimit } from './limit';
import { parseWorkflowInput } from './parse-input';
import { defaultGuardTimeouts, stepTimeoutsOf } from './step-timeouts';

export const RECONCILE_WORKFLOW_TYPE = 'reconcilePolicies';

export const ReconcileInput = z
  .object({
    /** Report what would be restored; change nothing. */
    dryRun: z.boolean().default(false),
    /**
     * How long to wait for each guard's answer (a guard waiting for a dead run's job answers later, alone).
     * At most 30 minutes, the shortest run timeout the reconciler's schedule gives a run, so that a
     * missing answer is reported as `no-answer` before the run is cut short.
     */
    answerTimeout: boundedDuration(SECOND, 30 * MINUTE).default('2 minutes'),
    /** Guards reconciled at once. */
    concurrency: z.number().int().min(1).max(64).default(8),
    /** Activity timeouts the guards restore with (as in protectedBackup's `timeouts`). */
    timeouts: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type ReconcileRequest = z.input<typeof ReconcileInput>;

export const ReconcileOutcome = z.enum([
  'restored', // the guard's successor restored the recorded policy (verified)
  'would-restore', // dry run: not in place, no live holder
  'in-place', // already back (an admin, or a later run); nothing to do
  'held', // a live run holds the VM: its guard restores when the last one releases
  'left-alone', // requested write-through before the guard: nothing to restore
  'unknown-vm', // FVP no longer knows the VM
  'kept-change', // someone else changed the VM's policy from write-through: kept as they set it, reported
  'no-answer', // the guard did not answer in time (it keeps working; the next period looks again)
]);
export type ReconcileOutcome = z.infer<typeof ReconcileOutcome>;

export interface ReconcileEntry {
  vm: string;
  guardId: string;
  closedRun: { runId: string; status: string; closedAt: string | null };
  recorded: RequestedPolicy | null;
  /** Requested policy read from FVP before acting (null: unknown VM or unreadable). */
  current: RequestedPolicy | null;
  holders: string[];
  abandonedJobs: string[];
  outcome: ReconcileOutcome;
  detail: string;
}

export interface ReconcileReport {
  dryRun: boolean;
  fvpServer: string;
  startedAt: string;
  endedAt: string;
  /** Closed guards that left their VM in write-through. */
  found: number;
  /** VMs whose recorded policy this run put back. */
  fixed: string[];
  entries: ReconcileEntry[];
}

/** The guards restore with protectedBackup's step timeouts, checked by the same schema. */
const StepTimeoutsInput = z.object({ timeouts: ProtectedBackupInput.shape.timeouts }).strict();

const now = (): string => new Date(Date.now()).toISOString();

export async function reconcilePolicies(request: ReconcileRequest = {}): Promise<ReconcileReport> {
  const input = parseWorkflowInput(ReconcileInput, request ?? {}, 'reconcilePolicies');
  const { timeouts } = parseWorkflowInput(StepTimeoutsInput, { timeouts: input.timeouts }, 'reconcilePolicies');
  const guardTimeouts = { ...defaultGuardTimeouts(), ...stepTimeoutsOf(timeouts) };
  const { fvp } = stepProxies(guardTimeouts);
  const info = workflowInfo();
  const messengers = patched(GUARD_REQUESTS_AS_ACTIVITIES) ? reconcilerMessengers : localReconcilerMessengers;
  const me: Requester = { workflowId: info.workflowId, runId: info.runId, firstRunId: info.firstExecutionRunId };

  const answers = new Map<string, Extract<GuardReply, { kind: 'reconciled' }>>();
  setHandler(vmGuardReplySignal, (raw: unknown) => {
    const reply = GuardReply.safeParse(raw);
    if (reply.success && reply.data.kind === 'reconciled' && reply.data.firstRunId === me.firstRunId) {
      answers.set(reply.data.guardId, reply.data);
    }
  });

  const startedAt = now();
  const { fvpServer } = await vmGuardSettings();
  const candidates = await reconcilerLookups.findUnrestoredGuards();

  async function reconcileOne(guard: UnrestoredGuard): Promise<ReconcileEntry> {
    const entry = entryFor(guard, '');
    let current;
    try {
      current = await fvp.readCachePolicy({ vm: guard.vm });
      entry.current = current?.requested ?? null;
    } catch (err) {
      entry.detail = `could not read the policy: ${messageOf(err)}; `;
    }
    if (input.dryRun) {
      if (current === null) return done(entry, 'unknown-vm', 'FVP does not know the VM');
      if (current && guard.recorded && samePolicy(current.requested, guard.recorded)) {
        return done(entry, 'in-place', 'the recorded policy is in place');
      }
      const live = (await reconcilerLookups.describeHolders({ holders: guard.holderRuns })).filter((h) => h.alive);
      if (live.length > 0) return done(entry, 'held', `held by ${live.map((h) => h.workflowId).join(', ')}`);
      const jobs = guard.abandonedJobs.length ? ` once ${guard.abandonedJobs.join(', ')} has no running session` : '';
      return done(entry, 'would-restore', `would restore ${JSON.stringify(guard.recorded)}${jobs}`);
    }
    await messengers.signalVmGuards({
      deliveries: [
        {
          guardId: guard.guardId,
          vm: guard.vm,
          fvpServer: guard.fvpServer,
          // A uuid-keyed guard's successor addresses the VM by its uuid too (a rename is followed).
          ...(guard.uuid === undefined ? {} : { uuid: guard.uuid }),
          request: {
            kind: 'reconcile',
            requester: me,
            timeouts: guardTimeouts,
            // The closed run's record, holders and abandoned jobs, naming the run: the guard that
            // takes it over says so in its memo, and the next pass finds it settled.
            ...(guard.carried
              ? { record: guard.carried }
              : guard.recorded
                ? { record: { recorded: guard.recorded, alreadyWriteThrough: false } }
                : {}),
          },
        },
      ],
    });
    if (!(await condition(() => answers.has(guard.guardId), durationMs(input.answerTimeout)))) {
      return done(entry, 'no-answer', `no answer within ${String(input.answerTimeout)}; the guard keeps working`);
    }
    const answer = answers.get(guard.guardId) as Extract<GuardReply, { kind: 'reconciled' }>;
    const detail =
      answer.outcome === 'held'
        ? `held by ${answer.holders.join(', ')}`
        : answer.policy
          ? `requested now ${JSON.stringify(answer.policy.requested)}`
          : '';
    return done(entry, answer.outcome, detail);
  }

  const results = await settleWithLimit(candidates, input.concurrency, reconcileOne);
  const entries = results.map((r, i) => {
    if (r.status === 'fulfilled') return r.value;
    return entryFor(candidates[i] as UnrestoredGuard, messageOf(r.reason));
  });
  const fixed = entries.filter((e) => e.outcome === 'restored').map((e) => e.vm);
  if (fixed.length > 0 && !input.dryRun) await sendNotification({ ...eventBase('reconciler-fixed'), vms: fixed });
  return { dryRun: input.dryRun, fvpServer, startedAt, endedAt: now(), found: candidates.length, fixed, entries };
}

function done(entry: ReconcileEntry, outcome: ReconcileOutcome, detail: string): ReconcileEntry {
  entry.outcome = outcome;
  entry.detail = `${entry.detail}${detail}`;
  return entry;
}

/** What the reconciler knows of a closed guard before it has an answer: `no-answer` until one comes. */
function entryFor(guard: UnrestoredGuard, detail: string): ReconcileEntry {
  return {
    vm: guard.vm,
    guardId: guard.guardId,
    closedRun: { runId: guard.runId, status: guard.status, closedAt: guard.closedAt },
    recorded: guard.recorded,
    current: null,
    holders: guard.holders,
    abandonedJobs: guard.abandonedJobs,
    outcome: 'no-answer',
    detail,
  };
}
