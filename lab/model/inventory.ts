/**
 * The lab's vSphere inventory as Veeam shows it (issue 10 item 1): the objects added to a job
 * (Get-VBRJobObject: VMs, containers, exclusions, unexpanded), the Find-VBRViEntity views that list
 * containers and the VMs under them, and the VMs a session really processes. This is the lab's own
 * model of Veeam, written apart from the product's rules (activities/vendor/containers.ts and the
 * facts table), so that a wrong product rule shows as a wrong verdict, not as an agreement.
 * Modelled: one vCenter `vc01`, one datacenter `DC1`; paths `vc01\DC1\<container>\<vm>` (tags:
 * `vc01\<tag>\<vm>`); morefs derived from the names.
 */
import { createHash } from 'node:crypto';
import type { RawObject } from '../../activities/powershell/operations';
import type { InventoryView } from '../../activities/powershell/operations';
import type { ScenarioJobObject } from '../scenario';

const VC = 'vc01';
const DC = `${VC}\\DC1`;
const VM_TYPE = 'VirtualMachine';

/** Which Find-VBRViEntity view lists a container type, the entity Type it has there, and its moref prefix. */
const CONTAINERS: Record<string, { view: InventoryView; entityType: string; prefix: string }> = {
  Folder: { view: 'VMsAndTemplates', entityType: 'Folder', prefix: 'group-v' },
  Datacenter: { view: 'HostsAndClusters', entityType: 'Datacenter', prefix: 'datacenter-' },
  Cluster: { view: 'HostsAndClusters', entityType: 'Cluster', prefix: 'domain-c' },
  Host: { view: 'HostsAndClusters', entityType: 'Host', prefix: 'host-' },
  ResourcePool: { view: 'HostsAndClusters', entityType: 'ResourcePool', prefix: 'resgroup-' },
  VirtualApp: { view: 'HostsAndClusters', entityType: 'VirtualApp', prefix: 'resgroup-v' },
  Datastore: { view: 'DatastoresAndVMs', entityType: 'Datastore', prefix: 'datastore-' },
  StoragePod: { view: 'DatastoresAndVMs', entityType: 'StoragePod', prefix: 'group-p' },
  Tag: { view: 'Tags', entityType: 'Tag', prefix: 'urn:vmomi:InventoryServiceTag:' },
};

function moref(prefix: string, name: string): string {
  return prefix + createHash('sha256').update(name).digest('hex').slice(0, 8);
}

export const vmMoref = (vm: string) => moref('vm-', vm);

interface JobLike {
  vms: string[];
  objects?: ScenarioJobObject[] | undefined;
}

function containerPath(o: { type: string; name: string }): string {
  return o.type === 'Tag' ? `${VC}\\${o.name}` : `${DC}\\${o.name}`;
}

/** The VMs Veeam processes for a scenario's job, in job order: `vms`, then included containers' VMs, less the excluded. */
export function processedVms(job: JobLike): string[] {
  const objects = job.objects ?? [];
  const excluded = new Set(
    objects.filter((o) => o.exclude).flatMap((o) => (o.type === VM_TYPE ? [o.name, ...o.vms] : o.vms)),
  );
  const included = [
    ...job.vms,
    ...objects.filter((o) => !o.exclude).flatMap((o) => (o.type === VM_TYPE ? [o.name] : o.vms)),
  ];
  return [...new Set(included.filter((vm) => !excluded.has(vm)))];
}

/** Everything added to a scenario's job: its `vms` (as VM objects), then its `objects`. */
export function addedObjects(job: { vms: string[]; objects: ScenarioJobObject[] }): ScenarioJobObject[] {
  return [
    ...job.vms.map((name) => ({ type: VM_TYPE, name, vms: [], exclude: false })),
    ...structuredClone(job.objects),
  ];
}

/**
 * Get-VBRJobObject's entries of a job (a state's: `objects`, everything added; without it, as
 * states before containers, `vms`), projected as the module projects them.
 */
export function rawJobObjects(job: JobLike): RawObject[] {
  const entry = (name: string, type: string, exclude: boolean): RawObject => {
    const container = CONTAINERS[type];
    return {
      '@type': 'Veeam.Backup.Core.CObjectInJob',
      Name: name,
      Type: exclude ? 'Exclude' : 'Include',
      Location: type === VM_TYPE ? `${DC}\\${name}` : containerPath({ type, name }),
      'Object.ViType': type,
      'Object.Name': name,
      'Object.ObjectId': type === VM_TYPE ? vmMoref(name) : moref(container?.prefix ?? 'obj-', `${type}:${name}`),
    };
  };
  if (job.objects === undefined) return job.vms.map((vm) => entry(vm, VM_TYPE, false));
  return job.objects.map((o) => entry(o.name, o.type, o.exclude));
}

/**
 * Find-VBRViEntity -<view>: every container of that view added to some job, with the VMs under it,
 * and (VMs and templates) every other VM of the lab in the datacenter's root folder. A VM's
 * Reference is its moref (`allVms`: a renamed VM keeps the one of its first name).
 */
export function viEntities(
  jobs: JobLike[],
  allVms: (string | { name: string; moref: string })[],
  view: InventoryView,
): RawObject[] {
  const vms = allVms.map((vm) => (typeof vm === 'string' ? { name: vm, moref: vmMoref(vm) } : vm));
  const morefOf = (vm: string) => vms.find((v) => v.name === vm)?.moref ?? vmMoref(vm);
  const entities = new Map<string, RawObject>();
  const add = (name: string, type: string, path: string, reference: string) =>
    entities.set(`${type}\0${path}`, {
      '@type': 'Veeam.Backup.Core.Infos.CViItem',
      Name: name,
      Type: type,
      Path: path,
      Reference: reference,
    });
  const placed = new Set<string>();
  for (const o of jobs.flatMap((j) => j.objects ?? [])) {
    const container = CONTAINERS[o.type];
    if (container === undefined || container.view !== view) continue;
    const path = containerPath(o);
    add(o.name, container.entityType, path, moref(container.prefix, `${o.type}:${o.name}`));
    for (const vm of o.vms) {
      add(vm, 'Vm', `${path}\\${vm}`, morefOf(vm));
      placed.add(vm);
    }
  }
  if (view === 'VMsAndTemplates') {
    for (const { name, moref: id } of vms) if (!placed.has(name)) add(name, 'Vm', `${DC}\\vm\\${name}`, id);
  }
  return [...entities.values()];
}
