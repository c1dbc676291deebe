/**
 * A run in the Veeam-started mode (issue 14): Veeam's scheduler starts the job; its pre-job hook
 * started (or joined) this run through update-with-start, and its post-job hook signals the end.
 *
 *   fence (before the switch) → protect through the per-VM guards (verified flush) → answer the
 *   pre-job update → wait for a session newer than the fence (at most `sessionDeadline`) → follow
 *   it to its end → while it ended without Success, a newer session within `retryGrace` is Veeam's
 *   retry and is followed too → the run releases (protected-backup.ts, as for every run). Each VM
 *   Veeam has read for good is released before that, as soon as its task ended (earlyRelease).
 *
 * It never starts or stops the job. Once the hook was answered, Veeam may start reading at any
 * moment until the deadline, so cancellation does not shorten the wait nor the follow (both are
 * shielded, and never give up while Veeam is unreachable): VMs are released only once no session
 * can still read them. Terminate and crashes are the guards' and the reconciler's, as for any run
 * (the guard of a dead holder waits until the job has no live session).
 */
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
  patched,
  sleep,
  workflowInfo,
  ActivityCancellationType,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { durationMs } from '../domain/duration';
import type { BackupSession, SessionFence } from '../domain/veeam';
import type { StepProxies } from './activity-proxies';
import { earlyReleaseOf, type SessionWatcher } from './early-release';
import { FailureType, messageOf, typeOf } from './failures';
import type { WriteThroughGuard } from './guard/write-through-guard';
import type { ProtectedBackupInput } from './input';
import type { VmStatus } from './status';
import { stepTimeoutsOf } from './step-timeouts';
import type { RunTracker } from './tracker';
import { followSession, recordSession } from './session-follower';
import {
  POST_JOB_SIGNAL,
  PRE_JOB_UPDATE,
  RUN_ENDING,
  type PreJobAnswer,
  type VeeamStartedSettings,
} from './veeam-started-input';

/** Asked only by runs whose input has `veeamStarted`: no recorded history has it. */
export const VEEAM_STARTED_PATCH = 'veeam-started';

/**
 * A pre-job hook that joins after a session that did not succeed (Veeam may run it right before
 * its retry) extends the wait for that retry to `sessionDeadline` after it, past the retry grace.
 * Asked only when such a hook came.
 */
export const PRE_JOB_EXTENDS_RETRY_WAIT_PATCH = 'veeam-started-pre-job-extends-retry-wait';

/**
 * Early release (early-release.ts) in Veeam-started runs, asked once a session was found, by runs
 * with `veeam.release: 'per-vm'` (the default) and a per-VM guard; before it they held every VM
 * until the last retry had ended.
 */
export const VEEAM_STARTED_EARLY_RELEASE_PATCH = 'veeam-started-early-release';

type Steps = Pick<StepProxies, 'veeamWait' | 'fvp'>;

export const preJobUpdate = defineUpdate<PreJobAnswer, []>(PRE_JOB_UPDATE);
export const postJobSignal = defineSignal<[unknown?]>(POST_JOB_SIGNAL);

type Lookups = Pick<Activities, 'takeVeeamStartedFence' | 'awaitVeeamSession'>;

/** How long one lookup activity polls before the workflow looks at the post-job signal again. */
function lookupSliceMs(pollMs: number): number {
  return Math.min(10_000, Math.max(pollMs * 10, 1_000));
}

export class VeeamStartedRun {
  private answer: PreJobAnswer | { message: string; type: string } | undefined;
  /** Once set, a pre-job hook cannot join this run any more (it is releasing): it starts the next one. */
  private ending = false;
  private jobOver = false;
  /** When a pre-job hook last reached this run (workflow clock). */
  private lastPreJobAt: number | undefined;
  private readonly settings: VeeamStartedSettings;
  private readonly pollMs: number;
  private readonly lookups: Lookups;

  /** Registers the update and the signal: call it in the run's first activation (the update comes with the start). */
  constructor(
    private readonly tracker: RunTracker,
    private readonly input: ProtectedBackupInput,
  ) {
    this.settings = input.veeamStarted as VeeamStartedSettings;
    this.pollMs = durationMs(input.veeam.pollInterval);
    const t = stepTimeoutsOf(input.timeouts);
    this.lookups = proxyActivities<Lookups>({
      heartbeatTimeout: t.heartbeatMs,
      startToCloseTimeout: t.stepMs + lookupSliceMs(this.pollMs),
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      retry: {
        initialInterval: t.retryInitialMs,
        backoffCoefficient: 2,
        maximumInterval: Math.max(t.retryInitialMs, 30_000),
        maximumAttempts: t.retryMaximumAttempts,
      },
    });
    setHandler(
      preJobUpdate,
      async () => {
        this.lastPreJobAt = Date.now();
        await condition(() => this.answer !== undefined);
        const answer = this.answer!;
        if ('message' in answer) throw ApplicationFailure.nonRetryable(answer.message, answer.type);
        // A hook that joins later (Veeam may run it before a retry) hears only the VMs still held:
        // those released early are not protected any more, and the job log must not say they are.
        const released = new Set(
          this.tracker.status.vms.filter((vm) => vm.releasedAt !== undefined).map((vm) => vm.vm),
        );
        return { ...answer, protected: answer.protected.filter((vm) => !released.has(vm)) };
      },
      {
        validator: () => {
          if (this.ending) {
            throw ApplicationFailure.create({
              message: `this run of ${JSON.stringify(input.job)} is releasing its VMs; a pre-job hook must start the next run`,
              type: RUN_ENDING,
            });
          }
        },
      },
    );
    setHandler(postJobSignal, () => {
      this.jobOver = true;
    });
  }

  /** The run failed or was cancelled before it answered: the pre-job hook hears why (and fails Veeam's job). */
  fail(err: unknown): void {
    this.ending = true;
    this.answer ??= {
      message: `${messageOf(err)}; the VMs were not all protected: the backup must not run`,
      type: typeOf(err) ?? (err instanceof CancelledFailure ? 'Cancelled' : FailureType.internal),
    };
  }

  /**
   * Protects `vms`, answers the pre-job hook, follows the session(s) Veeam starts. Returns the
   * session as the run judges it (the last one, with every task of every session followed), or
   * null when Veeam started none in time.
   */
  async protectAndFollow(steps: Steps, guard: WriteThroughGuard, vms: VmStatus[]): Promise<BackupSession | null> {
    const job = this.input.job;
    const { fence, running } = await this.lookups.takeVeeamStartedFence({ job });
    await guard.protect(vms);
    await this.refuseIfAlreadyReading(steps, fence, running);
    const info = workflowInfo();
    this.answer = {
      workflowId: info.workflowId,
      runId: info.runId,
      job,
      protected: vms.map((vm) => vm.vm),
      leftAlone: this.tracker.status.vms.filter((vm) => !vms.includes(vm)).map((vm) => vm.vm),
    };
    this.tracker.phase('backing-up');
    // From here Veeam may read at any moment: neither a cancel nor a Veeam outage cuts this short.
    const merged = await CancellationScope.nonCancellable(() => this.followVeeam(steps, guard, fence, running));
    this.ending = true;
    if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('cancelled');
    return merged;
  }

  /**
   * Right before answering: a session after the fence that has begun a task read a VM before its
   * flush was verified (Veeam did not wait for the hook, or someone started the job). Fail closed:
   * the hook fails, and the run follows that session to its end before releasing.
   */
  private async refuseIfAlreadyReading(
    steps: Steps,
    fence: SessionFence,
    running: BackupSession | null,
  ): Promise<void> {
    const seen = await this.lookups.awaitVeeamSession({
      job: this.input.job,
      fence,
      pollIntervalMs: this.pollMs,
      returnAfterMs: 0,
    });
    const candidate = seen ?? running;
    if (candidate === null) return;
    // Read in full: a per-job lookup may carry the session without its tasks.
    const session = await steps.veeamWait.watchSession({
      sessionId: candidate.id,
      pollIntervalMs: this.pollMs,
      reportAfterMs: 0,
    });
    if (!session.tasks.some((t) => t.status !== 'Pending' || t.progress > 0)) return;
    this.fail(
      new Error(`session ${session.id} of ${JSON.stringify(this.input.job)} began before the flush was verified`),
    );
    await CancellationScope.nonCancellable(() => this.follow(steps, session));
    throw ApplicationFailure.nonRetryable(
      `session ${session.id} of Veeam job ${JSON.stringify(this.input.job)} began reading VMs before their flush was verified: its backups may not be consistent`,
      FailureType.backedUpUnprotected,
    );
  }

  private async followVeeam(
    steps: Steps,
    guard: WriteThroughGuard,
    fence: SessionFence,
    running: BackupSession | null,
  ): Promise<BackupSession | null> {
    const deadline = Date.now() + durationMs(this.settings.sessionDeadline);
    // The post-job hook does not cut this wait short: Veeam runs it after a session, and one that
    // is slow to show in lookups must still be found (and followed) before anything is released.
    let current = running ?? (await this.awaitSession(fence, () => deadline, 'its session', false));
    if (current === null) {
      this.tracker.warn(
        `no session of ${JSON.stringify(this.input.job)} started within ${String(this.settings.sessionDeadline)} after the pre-job hook was answered: releasing`,
      );
      return null;
    }
    const watcher = this.earlyRelease(steps, guard);
    const tasks = new Map<string, BackupSession['tasks'][number]>();
    for (let retry = 1; ; retry++) {
      // Let go before this session: none of them may be read by it (see rereadAfterRelease).
      const released = new Set(this.tracker.status.vms.filter((vm) => vm.releasedAt !== undefined).map((vm) => vm.vm));
      current = await this.follow(steps, current, watcher);
      const stoppedAt = Date.now();
      for (const task of current.tasks) tasks.set(task.vm, task);
      this.rereadAfterRelease(current, released);
      if (current.result === 'Success') break;
      // A retry may come only now: what this session read for good is let go before the retry wait.
      await watcher?.stopped(current);
      // Veeam retries a session that did not succeed as a new "(Retry N)" session, after its retry wait.
      const graceEnd = Date.now() + durationMs(this.settings.retryGrace);
      // The run answered that hook "protected": the session it announces must find the VMs held.
      const waitUntil = (): number => {
        const joinedAt = this.lastPreJobAt;
        if (joinedAt === undefined || joinedAt < stoppedAt || !patched(PRE_JOB_EXTENDS_RETRY_WAIT_PATCH))
          return graceEnd;
        return Math.max(graceEnd, joinedAt + durationMs(this.settings.sessionDeadline));
      };
      const next = await this.awaitSession(sessionFence(current), waitUntil, `a retry of session ${current.id}`, true);
      if (next === null) break;
      this.tracker.warn(`Veeam retried the job: session ${next.id} (retry ${retry}) belongs to this run`);
      current = next;
    }
    return { ...current, tasks: [...tasks.values()] };
  }

  /**
   * Early release in a Veeam-started run, or undefined (`session-end`, run-local guard, histories
   * from before the patch). A VM is let go once its task in the followed session ended Success or
   * Warning, as in runs the worker starts; that holds across Veeam's retries because of the rule
   * this relies on: a "(Retry N)" session processes only the VMs whose task failed ("During the job
   * retry, Veeam Backup & Replication processes only those VMs that have failed", and no retry at
   * all after a Success or Warning session: Veeam's job_retry page, vendor evidence V13; the lab's
   * scheduler plays it so, lab/model/scheduler.ts). A VM whose task failed is not let go: a retry
   * may read it, so it stays held until the last session (retries included) has ended.
   *
   * The run cannot stop the job, so a failed early release must not cut the follow short: the VMs
   * stay held (a release already sent is sent again when the run releases) and it warns.
   */
  private earlyRelease(steps: Steps, guard: WriteThroughGuard): SessionWatcher | undefined {
    const watcher = earlyReleaseOf(this.tracker, steps, guard, this.input, VEEAM_STARTED_EARLY_RELEASE_PATCH);
    if (watcher === undefined) return undefined;
    const shielded =
      (release: (session: BackupSession) => Promise<void>) =>
      async (session: BackupSession): Promise<void> => {
        try {
          await release(session);
        } catch (err) {
          this.tracker.warn(`cannot release VMs early yet (${messageOf(err)}); they stay held until the run ends`);
        }
      };
    return { seen: shielded(watcher.seen), stopped: shielded(watcher.stopped) };
  }

  /**
   * Fail closed should Veeam break the rule early release relies on: a retry session that read a
   * VM this run had already let go may have read it in write-back. It cannot be undone; the VM is
   * marked as drifted, so the run fails PolicyDrift naming it, and the operator checks its backup.
   */
  private rereadAfterRelease(session: BackupSession, released: Set<string>): void {
    for (const task of session.tasks) {
      const vm = this.tracker.status.vms.find((v) => v.vm === task.vm);
      if (vm === undefined || !released.has(vm.vm) || vm.drift !== undefined) continue;
      vm.drift = `read again by Veeam's session ${session.id} after this run had released it (its task had succeeded in an earlier session, and Veeam retries only failed VMs)`;
      this.tracker.warn(`${vm.vm}: ${vm.drift}; its backup may not be consistent`);
    }
  }

  /**
   * A session of the job newer than `fence`, until `deadlineOf()` (or the post-job hook, when it ends
   * this wait: Veeam runs it after its last retry). Returns null
   * only after a lookup that succeeded showed none: while Veeam cannot be read, nobody knows.
   */
  private async awaitSession(
    fence: SessionFence,
    /** Read at every lookup: a hook that joins meanwhile may move it. */
    deadlineOf: () => number,
    what: string,
    endsWithPostJob: boolean,
  ): Promise<BackupSession | null> {
    let pauseMs = this.pollMs;
    for (;;) {
      const over = endsWithPostJob && this.jobOver;
      const deadline = deadlineOf();
      const remaining = over ? 0 : Math.max(0, deadline - Date.now());
      try {
        const session = await this.lookups.awaitVeeamSession({
          job: this.input.job,
          fence,
          pollIntervalMs: this.pollMs,
          returnAfterMs: Math.min(remaining, lookupSliceMs(this.pollMs)),
        });
        if (session !== null) return session;
        if (over || Date.now() >= deadlineOf()) return null;
        pauseMs = this.pollMs;
      } catch (err) {
        this.tracker.warn(`cannot look for ${what} yet: ${messageOf(err)}`);
        await sleep(pauseMs);
        pauseMs = Math.min(pauseMs * 2, 60_000);
      }
    }
  }

  /**
   * Follows a session to Stopped; never gives up (the release waits for it). Read at least once by
   * id, even when the lookup saw it stopped: a per-job lookup may carry it without its tasks, which
   * the safety net after the session needs.
   */
  private async follow(
    steps: Pick<StepProxies, 'veeamWait'>,
    start: BackupSession,
    watcher?: SessionWatcher,
  ): Promise<BackupSession> {
    return followSession(this.tracker, steps, recordSession(this.tracker, start), {
      pollIntervalMs: this.pollMs,
      reportAfterMs: lookupSliceMs(this.pollMs),
      watcher,
      untilStopped: true,
    });
  }
}

function sessionFence(session: BackupSession): SessionFence {
  return { previous: { id: session.id, creationTime: session.creationTime } };
}
