/**
 * protectedBackup: a consistent Veeam backup of VMs that FVP accelerates in write-back.
 *
 *   validate → resolve VMs and record each requested policy → (HotAdd preflight) →
 *   write-through + verified flush → Veeam job, exactly once → restore, whatever happened.
 *
 * The restore runs in `finally`, shielded from cancellation. Terminate and workflow timeouts skip
 * it (Temporal runs no workflow code then): the per-VM guards drop holders that closed, and the
 * reconciler covers guards that were themselves terminated.
 *
 * Write-through and restore go through a WriteThroughGuard. Runs started since the `vm-guard`
 * patch use the per-VM guard (guard/holder.ts), shared by every run that touches a VM; runs
 * recorded before it (test/fixtures/histories/v1-*) replay with the run-local guard they used. The
 * run-local guard can still be chosen for a benchmark baseline, by the memo `fvpb.guard: 'run-local'`
 * (not part of the input: it would let a run skip the coordination with other runs).
 */
import {
  ApplicationFailure,
  defineQuery,
  isCancellation,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { durationMs } from '../domain/duration';
import { isFlushed } from '../domain/policy';
import type { BackupSession } from '../domain/veeam';
import { OPERATOR_VISIBILITY, stepProxies, type StepProxies } from './activity-proxies';
import { runBackupJob } from './backup-job';
import { earlyReleaseOf } from './early-release';
import { backedUpUnprotected, recordRunOutcome, type RunOutcome } from '../domain/metrics';
import { asApplicationFailure, FailureType, messageOf, typeOf } from './failures';
import { eventBase, sendNotification } from './notifications';
import { GUARD_BY_UUID, runVmGuardHolder } from './guard/holder';
import { runLocalGuard } from './guard/run-local';
import type { WriteThroughGuard } from './guard/write-through-guard';
import { ProtectedBackupInput, type ProtectedBackupRequest } from './input';
import { rejections, settleWithLimit } from './limit';
import { parseWorkflowInput } from './parse-input';
import type { RunReport, RunStatus, VmStatus } from './status';
import { stepTimeoutsOf } from './step-timeouts';
import { RunTracker } from './tracker';
import { VEEAM_STARTED_PATCH, VeeamStartedRun } from './veeam-started';
import { warnIfScheduled } from './schedule-warning';

/** The patch under which a VM the run cannot match fails it (before: skipped), and the safety net runs. */
const FAIL_CLOSED_VMS = 'fail-closed-vms';

/** The patch under which every VM's flush is read once more right before the job is started. */
const REVERIFY_BEFORE_START = 'reverify-before-start';

/** Memo key that selects the run-local guard (benchmark baselines only). */
export const GUARD_MEMO_KEY = 'fvpb.guard';

export const statusQuery = defineQuery<RunStatus>('status');

export async function protectedBackup(request: ProtectedBackupRequest): Promise<RunReport> {
  const input = parseWorkflowInput(ProtectedBackupInput, request, 'protectedBackup');
  // Always asked at the same point: runs since the patch keep their search attributes up to date.
  const tracker = new RunTracker(input.job, input.dryRun, patched(OPERATOR_VISIBILITY));
  setHandler(statusQuery, () => tracker.status);
  // In the first activation: the pre-job hook's update comes with the start (update-with-start).
  const veeamStarted =
    input.veeamStarted !== undefined && patched(VEEAM_STARTED_PATCH) ? new VeeamStartedRun(tracker, input) : null;

  const steps = stepProxies(stepTimeoutsOf(input.timeouts), durationMs(input.veeam.maxDuration));
  // Always asked here, by every run: guards keyed on the VM's FVP uuid (guard/holder.ts).
  const byUuid = patched(GUARD_BY_UUID);
  const guard = chooseGuard(tracker, steps, input, byUuid);
  let failure: unknown = undefined;
  try {
    const vms = await resolveVms(tracker, steps, input);
    tracker.publish();
    if (input.transportMode === 'hotadd') await checkHotAddProxies(tracker, steps, input.hotAddProxies ?? []);
    if (input.dryRun) {
      planOnly(tracker, vms);
    } else if (veeamStarted) {
      // Veeam starts the job (its pre-job hook started this run): protect, answer, follow, release.
      const session = await veeamStarted.protectAndFollow(steps, guard, vms);
      if (session !== null) await judgeSession(tracker, steps, session, input, byUuid);
    } else {
      // Wait out (or refuse) a session we did not start before switching: VMs must not sit in
      // write-through while another run of the job goes on.
      await steps.veeamWait.prepareJobStart({
        job: input.job,
        whenAlreadyRunning: input.veeam.whenAlreadyRunning,
        pollIntervalMs: durationMs(input.veeam.pollInterval),
      });
      await guard.protect(vms);
      // Always asked at the same point; histories from before the patch replay without the read.
      if (patched(REVERIFY_BEFORE_START)) await reverifyFlush(tracker, steps, vms, input, byUuid);
      const session = await runBackupJob(
        tracker,
        steps,
        input.job,
        input.veeam,
        earlyReleaseOf(tracker, steps, guard, input),
      );
      await judgeSession(tracker, steps, session, input, byUuid);
    }
  } catch (err) {
    failure = err;
    veeamStarted?.fail(err);
  } finally {
    for (const vm of tracker.status.vms) if (vm.writeThroughAt !== null) tracker.released(vm); // its window's end
    await guard.release(); // shielded from cancellation inside; retries until every VM is back
  }
  // A restore handed over to its guard (guard/holder.ts) leaves the VM in write-through: the run
  // closes so that the job's next runs are not blocked, but as a failure naming the VM, never a
  // success (an earlier failure stays the run's own). A VM gone from FVP or no longer accelerated
  // is only a warning: nothing is left in write-through, and its backup was protected.
  failure ??= handedOverFailure(tracker);

  if (failure !== undefined) {
    const cancelled = isCancellation(failure);
    tracker.status.error = cancelled ? 'cancelled' : messageOf(failure);
    tracker.phase(cancelled ? 'cancelled' : 'failed');
  } else {
    tracker.phase('completed');
  }
  await reportOutcome(tracker, failure);
  if (failure !== undefined) throw asApplicationFailure(failure, [tracker.status]);
  return tracker.status;
}

function handedOverFailure(tracker: RunTracker): ApplicationFailure | undefined {
  const handedOver = tracker.status.vms.filter((vm) => vm.step === 'restore-handed-over');
  if (handedOver.length === 0) return undefined;
  return ApplicationFailure.nonRetryable(
    `restore still failing for ${handedOver.map((vm) => JSON.stringify(vm.vm)).join(', ')}: still in write-through; ` +
      `their guards keep restoring them alone (fvpb guard status); the job's next runs are not blocked`,
    FailureType.restoreHandedOver,
  );
}

/** After the session: drift, VMs backed up unprotected, then Veeam's result. */
async function judgeSession(
  tracker: RunTracker,
  steps: StepProxies,
  session: BackupSession,
  input: ProtectedBackupInput,
  byUuid: boolean,
): Promise<void> {
  failIfDrifted(tracker);
  await failIfBackedUpUnprotected(tracker, session, input, byUuid ? steps : null);
  if (session.result === 'Failed') {
    throw ApplicationFailure.nonRetryable(
      `Veeam job ${JSON.stringify(input.job)} ended with result Failed (session ${session.id})`,
      FailureType.jobFailed,
    );
  }
  if (session.result === 'Warning') {
    const warned = session.tasks.filter((t) => t.result === 'Warning').map((t) => t.vm);
    tracker.warn(`Veeam reported result Warning${warned.length ? ` for ${warned.join(', ')}` : ''}`);
  }
}

function chooseGuard(
  tracker: RunTracker,
  steps: StepProxies,
  input: ProtectedBackupInput,
  byUuid: boolean,
): WriteThroughGuard {
  const shared = patched('vm-guard'); // always called: new runs record the marker, v1 histories replay without it
  if (shared && workflowInfo().memo?.[GUARD_MEMO_KEY] !== 'run-local') return runVmGuardHolder(tracker, input, byUuid);
  return runLocalGuard(tracker, steps, input.flush, stepTimeoutsOf(input.timeouts));
}

/**
 * The VMs to protect: those listed, plus every VM of the job that FVP accelerates. Each VM's
 * requested policy is recorded here, before anything is changed.
 */
async function resolveVms(tracker: RunTracker, steps: StepProxies, input: ProtectedBackupInput): Promise<VmStatus[]> {
  tracker.phase('resolving');
  const job = await steps.veeam.describeJob({ job: input.job });
  warnIfScheduled(tracker, job, input.veeamStarted !== undefined);
  const listed = new Set(input.vms ?? []);
  const outsideFvp = new Set(input.outsideFvp ?? []);
  const inJob = new Set(job.vms);
  for (const vm of new Set([...listed, ...inJob])) {
    tracker.addVm(vm, listed.has(vm) && inJob.has(vm) ? 'input+job' : listed.has(vm) ? 'input' : 'job');
  }
  const results = await settleWithLimit(tracker.status.vms, input.flush.concurrency, async (vm) => {
    const policy = await steps.fvp.readCachePolicy({ vm: vm.vm });
    if (!policy) {
      if (outsideFvp.has(vm.vm)) return tracker.step(vm, 'skipped'); // the operator says: outside FVP
      // Histories from before the patch skipped such a VM; new runs never guess "not cached".
      if (vm.source === 'job' && !patched(FAIL_CLOSED_VMS)) return tracker.step(vm, 'skipped');
      if (vm.source === 'job') {
        throw ApplicationFailure.nonRetryable(
          `VM ${JSON.stringify(vm.vm)} of job ${JSON.stringify(input.job)} is not known to FVP; if it is outside FVP, list it in outsideFvp; ` +
            // Veeam may keep a VM's old name in a job it was added to by name (unconfirmed).
            `if it was renamed in vCenter, check the job's objects in Veeam; nothing was changed`,
          FailureType.unknownVm,
        );
      }
      throw ApplicationFailure.nonRetryable(
        `VM ${JSON.stringify(vm.vm)} is not known to FVP; nothing was changed`,
        FailureType.unknownVm,
      );
    }
    vm.accelerated = policy.accelerated;
    vm.effective = policy.effective;
    vm.uuid = policy.uuid; // the VM's identity: its guard's key (guard/holder.ts)
    if (!policy.accelerated) return tracker.step(vm, 'skipped');
    vm.recorded = policy.requested;
    vm.alreadyWriteThrough = policy.requested.mode === 'WriteThrough';
  });
  const failed = rejections(results);
  if (failed.length) throw failed[0];
  return tracker.status.vms.filter((vm) => vm.accelerated);
}

async function checkHotAddProxies(tracker: RunTracker, steps: StepProxies, proxies: string[]): Promise<void> {
  tracker.phase('preflight');
  const states = await steps.fvp.readVadpBlacklist({ proxies });
  const missing = states.filter((p) => !p.vadp).map((p) => JSON.stringify(p.vm));
  if (missing.length) {
    throw ApplicationFailure.nonRetryable(
      `HotAdd proxies without the FVP VADP blacklist: ${missing.join(', ')}; run the setVadpBlacklist workflow first`,
      FailureType.vadpMissing,
    );
  }
}

/**
 * Between the grant and the snapshot a VM can leave write-through (an admin, FVP itself, a stale
 * write): one more read of every VM right before the job starts, and no backup if any is not
 * flushed any more.
 */
async function reverifyFlush(
  tracker: RunTracker,
  steps: StepProxies,
  vms: VmStatus[],
  input: ProtectedBackupInput,
  byUuid: boolean,
): Promise<void> {
  if (vms.length === 0) return;
  const uuids = vms.map((vm) => vm.uuid);
  const states = await steps.fvp.waitForFlush({
    vms: vms.map((vm) => vm.vm),
    // By uuid: a VM renamed since it was granted is still the one read (guard/holder.ts GUARD_BY_UUID).
    ...(byUuid && uuids.every((u) => u !== undefined) ? { uuids: uuids as string[] } : {}),
    pollIntervalMs: durationMs(input.flush.pollInterval),
    returnAfterMs: 0,
  });
  for (const [i, state] of states.entries()) {
    if (isFlushed(state)) continue;
    const vm = vms[i] as VmStatus;
    vm.drift = `left write-through after it was verified: requested ${state.requested.mode}, effective ${state.effective}, ${state.timeToDestageSeconds} s to destage`;
  }
  const lost = vms.filter((vm) => vm.drift);
  if (lost.length) {
    throw ApplicationFailure.nonRetryable(
      `flush lost before the backup started: ${lost.map((vm) => `${JSON.stringify(vm.vm)} ${vm.drift}`).join('; ')}; no backup was started`,
      FailureType.policyDrift,
    );
  }
}

/**
 * The safety net after the session: every VM Veeam backed up must be one this run protected and
 * verified, one FVP says it does not accelerate, or one listed in `outsideFvp`. Anything else (a
 * VM of a folder, tag or datastore the job contains, a VM added to the job since the run resolved
 * it) was backed up in write-back: the run fails, loudly, naming each.
 */
async function failIfBackedUpUnprotected(
  tracker: RunTracker,
  session: BackupSession,
  input: ProtectedBackupInput,
  byUuid: StepProxies | null,
): Promise<void> {
  const known = new Set([...tracker.status.vms.map((vm) => vm.vm), ...(input.outsideFvp ?? [])]);
  let unprotected = [...new Set(session.tasks.map((task) => task.vm))].filter((vm) => !known.has(vm));
  // Histories from before the patch completed here; new runs say it.
  if (unprotected.length === 0 || !patched(FAIL_CLOSED_VMS)) return;
  if (byUuid) unprotected = await withoutRenamed(tracker, byUuid, unprotected);
  if (unprotected.length === 0) return;
  for (const vm of unprotected) {
    tracker.warn(`backed up unprotected: ${vm} (Veeam processed it; this run never protected it)`);
    backedUpUnprotected(vm, input.job);
    await sendNotification({ ...eventBase('backed-up-unprotected', { vm }), vm, job: input.job, session: session.id });
  }
  throw ApplicationFailure.nonRetryable(
    `backed up unprotected: ${unprotected.map((vm) => JSON.stringify(vm)).join(', ')} (in Veeam job ${JSON.stringify(input.job)} but not protected by this run: a container's VM or one added since); their backups may not be consistent; list them in vms, or in outsideFvp if FVP does not accelerate them`,
    FailureType.backedUpUnprotected,
  );
}

/**
 * Veeam names a task by the VM's name when it reads it: a VM renamed in vCenter during the run is
 * a name this run never resolved, though it protected that very VM (its guard follows it by uuid).
 * Each such name is read from FVP: one whose uuid is a VM this run protected is that VM, renamed
 * (a warning says so); any other, or one that cannot be read, stays unprotected (fail closed).
 */
async function withoutRenamed(tracker: RunTracker, steps: StepProxies, names: string[]): Promise<string[]> {
  const protectedByUuid = new Map(
    tracker.status.vms.filter((vm) => vm.accelerated && vm.uuid !== undefined).map((vm) => [vm.uuid as string, vm]),
  );
  if (protectedByUuid.size === 0) return names;
  const still: string[] = [];
  for (const name of names) {
    const policy = await steps.fvp.readCachePolicy({ vm: name }).catch(() => null);
    const vm = policy ? protectedByUuid.get(policy.uuid) : undefined;
    if (vm === undefined) {
      still.push(name);
      continue;
    }
    tracker.warn(`${vm.vm}: renamed to ${name} during the run (same FVP uuid ${policy?.uuid}); it was protected`);
  }
  return still;
}

/** A VM that left write-through while the job ran may have been backed up unprotected: say so, loudly. */
function failIfDrifted(tracker: RunTracker): void {
  const drifted = tracker.status.vms.filter((vm) => vm.drift);
  if (drifted.length === 0) return;
  throw ApplicationFailure.nonRetryable(
    `${drifted.map((vm) => `${JSON.stringify(vm.vm)} ${vm.drift}`).join('; ')}, during the backup: their backups may not be consistent`,
    FailureType.policyDrift,
  );
}

/** The run's outcome where operators look: the runs metric, and a notification unless it simply succeeded. */
async function reportOutcome(tracker: RunTracker, failure: unknown): Promise<void> {
  const { job, vms: statuses, warnings, dryRun } = tracker.status;
  const outcome: RunOutcome =
    failure === undefined
      ? warnings.length > 0
        ? 'warning'
        : 'completed'
      : isCancellation(failure)
        ? 'cancelled'
        : 'failed';
  recordRunOutcome(outcome, job);
  for (const vm of statuses.filter((v) => v.drift)) backedUpUnprotected(vm.vm, job);
  if (outcome === 'completed' || dryRun) return;
  const vms = statuses.map((vm) => vm.vm);
  if (outcome === 'failed') {
    await sendNotification({
      ...eventBase('run-failed'),
      job,
      vms,
      failure: { type: typeOf(failure) ?? null, message: messageOf(failure) },
    });
  } else if (outcome === 'cancelled') {
    await sendNotification({ ...eventBase('run-cancelled'), job, vms });
  } else {
    await sendNotification({ ...eventBase('run-warning'), job, vms, warnings });
  }
}

function planOnly(tracker: RunTracker, vms: VmStatus[]): void {
  const plan = tracker.status.plan;
  for (const vm of tracker.status.vms) {
    if (!vm.accelerated) plan.push(`${vm.vm}: not accelerated by FVP, left alone`);
    else if (vm.alreadyWriteThrough) plan.push(`${vm.vm}: already write-through, verify flush, left alone`);
    else plan.push(`${vm.vm}: record ${JSON.stringify(vm.recorded)}, switch to write-through, verify flush, restore`);
  }
  plan.push(
    `then start Veeam job ${JSON.stringify(tracker.status.job)} once, follow it, and restore ${vms.length} VM(s)`,
  );
}
