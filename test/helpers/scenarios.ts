/**
 * Lab scenarios for integration tests, built on the demo's default so that every test states
 * only what it changes.
 */
import { defaultScenario, type ScenarioInput, type ScenarioVm } from '../../lab/scenario';

export const JOB = 'Nightly-SQL';

export interface ScenarioOptions {
  /** Number of VMs (named vm-01, vm-02, ...); default: the demo's three VMs. */
  vmCount?: number;
  /** Destage lag of VM i (ms). */
  destageMs?: (index: number) => number;
  writeIntervalMs?: number;
  taskMs?: number;
  startDelayMs?: number;
  outcome?: 'Success' | 'Warning' | 'Failed';
  transportMode?: 'DirectSan' | 'HotAdd' | 'Nbd';
  /** Changes to individual VMs, by index. */
  vm?: (vm: ScenarioVm, index: number) => ScenarioVm;
}

export function scenario(options: ScenarioOptions = {}): ScenarioInput {
  const base = defaultScenario({ taskMs: options.taskMs ?? 300, startDelayMs: options.startDelayMs ?? 100 });
  const template = base.fvp.vms[0] as ScenarioVm;
  const vms: ScenarioVm[] =
    options.vmCount === undefined
      ? base.fvp.vms
      : Array.from({ length: options.vmCount }, (_, i) => ({
          ...template,
          name: `vm-${String(i + 1).padStart(2, '0')}`,
        }));
  const shaped = vms.map((vm, i) => {
    const changed: ScenarioVm = {
      ...vm,
      destageMs: options.destageMs ? options.destageMs(i) : vm.destageMs,
      writeIntervalMs: options.writeIntervalMs ?? vm.writeIntervalMs,
    };
    return options.vm ? options.vm(changed, i) : changed;
  });
  const job = base.veeam.jobs[0]!;
  return {
    ...base,
    fvp: { ...base.fvp, vms: shaped },
    veeam: {
      ...base.veeam,
      jobs: [
        {
          ...job,
          vms: shaped.map((vm) => vm.name),
          outcome: options.outcome ?? job.outcome,
          transportMode: options.transportMode ?? job.transportMode,
        },
      ],
    },
  };
}

export function vmNames(input: ScenarioInput): string[] {
  return (input.fvp?.vms ?? []).map((vm) => vm.name);
}
