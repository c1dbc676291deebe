/**
 * The run's live status: the object the `status` query returns and the report is made from. Phase
 * and step changes go through these methods, which stamp their times; the guards and the job
 * follower also write the facts they learn (flush progress, restore attempts, session state)
 * straight into the VM and backup entries.
 */
import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { JOB_ATTRIBUTE, PHASE_ATTRIBUTE, RESTORE_PENDING_ATTRIBUTE, VMS_ATTRIBUTE } from '../domain/search-attributes';
import { owesRestore, runDetails } from './run-details';
import type { Phase, RunStatus, VmStatus } from './status';

const now = (): string => new Date(Date.now()).toISOString(); // workflow clock: deterministic

export class RunTracker {
  readonly status: RunStatus;

  private published = '';

  /**
   * `searchable`: upsert the product's search attributes at every change (runs since the
   * `operator-visibility` patch; older histories replay without those commands).
   */
  constructor(
    job: string,
    dryRun: boolean,
    private readonly searchable = false,
  ) {
    this.status = {
      job,
      dryRun,
      phase: 'validating',
      vms: [],
      backup: { sessionId: null, state: null, result: null, progress: null, tasks: [] },
      startedAt: now(),
      timings: { validating: now() },
      endedAt: null,
      warnings: [],
      error: null,
      plan: [],
    };
  }

  phase(phase: Phase): void {
    this.status.phase = phase;
    this.status.timings[phase] = now();
    if (phase === 'completed' || phase === 'failed' || phase === 'cancelled') this.status.endedAt = now();
    this.publish();
  }

  /**
   * Shows the status where operators look: the run's current details in the Web UI (no history
   * event) and, when searchable, the search attributes (an upsert only when one of them changed).
   */
  publish(): void {
    setCurrentDetails(runDetails(this.status));
    if (!this.searchable) return;
    const vms = this.status.vms.map((vm) => vm.vm);
    const pending = this.status.vms.some(owesRestore);
    const values = JSON.stringify([this.status.phase, vms, pending]);
    if (values === this.published) return;
    this.published = values;
    upsertSearchAttributes([
      { key: JOB_ATTRIBUTE, value: this.status.job },
      { key: VMS_ATTRIBUTE, value: vms },
      { key: PHASE_ATTRIBUTE, value: this.status.phase },
      { key: RESTORE_PENDING_ATTRIBUTE, value: pending },
    ]);
  }

  addVm(vm: string, source: VmStatus['source']): VmStatus {
    const entry: VmStatus = {
      vm,
      source,
      accelerated: false,
      recorded: null,
      alreadyWriteThrough: false,
      step: 'planned',
      effective: null,
      timeToDestageSeconds: null,
      writeThroughAt: null,
      flushedAt: null,
      restoredAt: null,
      restoreAttempts: 0,
      lastError: null,
    };
    this.status.vms.push(entry);
    return entry;
  }

  step(vm: VmStatus, step: VmStatus['step']): void {
    vm.step = step;
    if (step === 'switching') vm.writeThroughAt = now();
    if (step === 'flushed') vm.flushedAt = now();
    if (step === 'restored') vm.restoredAt = now();
    this.publish();
  }

  /**
   * The run lets the VM go (its guard restores it when no other run holds it): the end of its
   * write-through window, for a VM this run switched. Once only.
   */
  released(vm: VmStatus): void {
    if (vm.releasedAt !== undefined) return;
    vm.releasedAt = now();
    if (vm.writeThroughAt !== null && !vm.alreadyWriteThrough) {
      vm.writeThroughSeconds = (Date.parse(vm.releasedAt) - Date.parse(vm.writeThroughAt)) / 1000;
    }
    this.publish();
  }

  warn(message: string): void {
    this.status.warnings.push(message);
    this.publish();
  }
}
