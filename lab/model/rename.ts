/**
 * A VM renamed in vCenter (issue 10 item 4: identity, not names), at any time, mid-run included.
 * What keeps the VM's identity, and so stays with it:
 * - FVP: Get-PrnxVM lists it under its new name, with the same uuid (vSphere's instance UUID,
 *   vendor evidence F5), flash cluster, requested-policy history and dirty data.
 * - Veeam: a job refers to a VM by its vSphere object id (moref), which a rename keeps, so the job
 *   keeps processing it, and a live session's task for it shows the new name from then on. Ended
 *   sessions keep the name they processed it under.
 * - vCenter's inventory (Find-VBRViEntity): the new name, the same moref, under the same containers.
 * What does not follow: Get-VBRJobObject keeps the name the VM was added to the job with. Veeam
 * refreshes it on a later job pass (review-reliability.md finding 3); the lab never does, the
 * stale name being the harder case for anyone resolving a job by names.
 * Pure apart from the state it changes; the caller judges due snapshots first, so that no verdict
 * waits on a name that has just gone.
 */
import { vmMoref } from './inventory';
import type { LabState, VmState } from './state';

export function renameVm(state: LabState, vm: VmState, to: string): void {
  const from = vm.name;
  // A job that names `from` means the first VM of that name (a twin in another flash cluster is not in it).
  const inJobs = state.fvp.vms.find((v) => v.name === from) === vm;
  vm.moref ??= vmMoref(from);
  vm.name = to;
  if (!inJobs) return;
  const renamed = (name: string) => (name === from ? to : name);
  const rekey = <T>(tasks: Record<string, T> | undefined) => {
    if (tasks === undefined || !(from in tasks)) return;
    tasks[to] = tasks[from] as T;
    delete tasks[from];
  };
  for (const job of state.veeam.jobs) {
    job.vms = job.vms.map(renamed);
    rekey(job.vmTasks);
    for (const o of job.objects ?? []) o.vms = o.vms.map(renamed);
  }
  for (const session of state.veeam.sessions) {
    // Only sessions with tasks still to judge: the others are history and keep the old name.
    if (session.judged >= session.vms.length) continue;
    session.vms = session.vms.map(renamed);
    rekey(session.vmTasks);
  }
}
