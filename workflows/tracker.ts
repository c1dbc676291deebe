/**
 * The run's live status: the object the `status` query returns and the report is made from. Phase
 * and step changes go through these methods, which stamp their times; the guards and the job
 * follower also write the facts they learn (flush progress, restore attempts, session state)
 * straight into the VM and backup entries.
 */
import type { Phase, RunStatus, VmStatus } from './status';

const now = (): string => new Date(Date.now()).toISOString(); // workflow clock: deterministic

export class RunTracker {
  readonly status: RunStatus;

  constructor(job: string, dryRun: boolean) {
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
  }

  warn(message: string): void {
    this.status.warnings.push(message);
  }
}
