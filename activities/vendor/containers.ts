/**
 * The VMs a Veeam job processes (issue 10 item 1). Get-VBRJobObject returns what was ADDED to the
 * job: VMs, but mostly containers (folders, tags, datastores, clusters, hosts, resource pools),
 * never the VMs inside, and the job's exclusions. Treating a container's name as a VM name backs up
 * every VM inside it in write-back. Here each entry is read by its inventory type (Object.ViType):
 * a VM is itself; a container is expanded to the VMs under it in the Find-VBRViEntity view that
 * holds its type; then the excluded VMs and the VMs of excluded containers are taken out. Every
 * rule is a row of the vendor-facts table (facts.ts VEEAM). It FAILS CLOSED: a container type
 * without a row, a container the inventory does not show, an entry or an entity that cannot be
 * read, stops the run before anything changes, naming the container, its type and what to do.
 * Pure, parsed with zod, tested without a server (test/vendor/containers.test.ts).
 */
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { InventoryView, RawObject, RawValue } from '../powershell/operations';
import { VEEAM } from './facts';
import { property, vendorMismatch } from './interpret';

/** The failure type of a job whose VMs the product cannot tell (non-retryable, before anything changes). */
export const CONTAINER_NOT_EXPANDABLE = 'JobContainerNotExpandable';

const text = z.string().min(1);
const optionalText = z.string().min(1).nullable();

/** One Get-VBRJobObject entry, as the rules read it. */
export const JobObject = z.object({ name: text, kind: optionalText, viType: text, objectId: optionalText }).strict();
export type JobObject = z.infer<typeof JobObject>;

/** One Find-VBRViEntity entity. */
export const ViEntity = z.object({ name: text, type: text, path: text, reference: text }).strict();
export type ViEntity = z.infer<typeof ViEntity>;

function isObject(value: RawValue): value is RawObject {
  return typeof value === 'object' && value !== null;
}

/** A property as text (numbers and booleans as their text), null when absent or null. */
function scalar(object: RawObject, name: string): string | null {
  const { value } = property(object, name);
  return value === null ? null : String(value);
}

/** Reads raw entries with a zod schema; a failure names the field, the fact and the value. */
function parseEach<T>(
  raw: RawValue[],
  what: string,
  fact: string,
  read: (o: RawObject) => Record<string, string | null>,
  schema: z.ZodType<T>,
  names: Record<string, string>,
): T[] {
  return raw.map((value) => {
    if (!isObject(value)) throw vendorMismatch(null, fact, `${what} is ${JSON.stringify(value)}, not an object`);
    const fields = read(value);
    const parsed = schema.safeParse(fields);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const field = String(issue?.path[0] ?? '');
    throw vendorMismatch(
      null,
      fact,
      `${what} ${JSON.stringify(fields.name ?? null)} has ${names[field] ?? field} ${JSON.stringify(fields[field] ?? null)}, not a text`,
    );
  });
}

export function parseJobObjects(raw: RawValue[]): JobObject[] {
  return parseEach(
    raw,
    'a Veeam job object',
    'jobObjectViTypeProperty',
    (o) => ({
      name: scalar(o, 'Name'),
      kind: scalar(o, VEEAM.jobObjectTypeProperty.value),
      viType: scalar(o, VEEAM.jobObjectViTypeProperty.value),
      objectId: scalar(o, VEEAM.jobObjectIdProperty.value),
    }),
    JobObject,
    {
      name: 'Name',
      viType: VEEAM.jobObjectViTypeProperty.value,
      objectId: VEEAM.jobObjectIdProperty.value,
      kind: 'Type',
    },
  );
}

export function parseViEntities(raw: RawValue[]): ViEntity[] {
  const p = VEEAM.viEntityProperties.value;
  return parseEach(
    raw,
    'a Find-VBRViEntity entity',
    'viEntityProperties',
    (o) => ({
      name: scalar(o, p.name),
      type: scalar(o, p.type),
      path: scalar(o, p.path),
      reference: scalar(o, p.reference),
    }),
    ViEntity,
    p,
  );
}

type Role = 'include' | 'exclude';

/** An entry of the job that counts: included or excluded, a VM or a container (with its view). */
interface Entry {
  role: Role;
  object: JobObject;
  view: InventoryView | null;
}

function notExpandable(job: string, object: JobObject, why: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `Veeam job ${JSON.stringify(job)}: ${object.kind === 'Exclude' ? 'excluded ' : ''}container ` +
      `${JSON.stringify(object.name)} (${object.viType}) cannot be expanded to its VMs: ${why}; add its VMs to the ` +
      `job individually, or correct the vendor-facts table (activities/vendor/facts.ts VEEAM.containerViews); ` +
      `nothing was changed`,
    CONTAINER_NOT_EXPANDABLE,
  );
}

/**
 * The entries that count, each with the view its container is expanded in; fails (before any
 * inventory is read) on an unknown kind or a container type without a rule.
 */
export function classifyJobObjects(job: string, objects: JobObject[]): Entry[] {
  const entries: Entry[] = [];
  for (const object of objects) {
    // No Type at all reads as included: protecting a VM more is only slower, never unsafe.
    const role = object.kind === null ? 'include' : VEEAM.jobObjectKinds.value[object.kind];
    if (role === undefined) {
      throw vendorMismatch(
        null,
        'jobObjectKinds',
        `Veeam job ${JSON.stringify(job)}: object ${JSON.stringify(object.name)} has Type ${JSON.stringify(object.kind)}, not one the table knows; nothing was changed`,
      );
    }
    if (role === 'ignore') continue;
    if (object.viType === VEEAM.vmViType.value) {
      entries.push({ role, object, view: null });
      continue;
    }
    const view = VEEAM.containerViews.value[object.viType];
    if (view === undefined) throw notExpandable(job, object, `no rule for the type ${object.viType}`);
    if (object.objectId === null) {
      throw notExpandable(job, object, `it has no ${VEEAM.jobObjectIdProperty.value} to find it in the inventory by`);
    }
    entries.push({ role, object, view });
  }
  return entries;
}

/** The inventory views the job's containers need (none for a job of VMs only). */
export function viewsNeeded(entries: Entry[]): InventoryView[] {
  return [...new Set(entries.flatMap((e) => (e.view === null ? [] : [e.view])))];
}

/** A VM as the job's answer identifies it: its moref where known, else its name. */
interface Vm {
  name: string;
  key: string;
}

function vmsUnder(job: string, entry: Entry & { view: InventoryView }, entities: ViEntity[]): Vm[] {
  const { object, view } = entry;
  const matches = entities.filter((e) => e.reference === object.objectId);
  if (matches.length !== 1) {
    throw notExpandable(
      job,
      object,
      `Find-VBRViEntity -${view} lists ${matches.length} entities with Reference ${JSON.stringify(object.objectId)}, not one`,
    );
  }
  const prefix = (matches[0] as ViEntity).path + VEEAM.viPathSeparator.value;
  const vmType = VEEAM.viEntityVmType.value.toLowerCase();
  return entities
    .filter((e) => e.type.toLowerCase() === vmType && e.path.startsWith(prefix))
    .map((e) => ({ name: e.name, key: `ref:${e.reference}` }));
}

/**
 * The VMs Veeam will process, in job order: included VMs and the VMs under included containers,
 * less the excluded VMs and the VMs under excluded containers (matched by moref where the entry
 * has one). `inventory` holds every view of viewsNeeded.
 */
export function expandJob(
  job: string,
  entries: Entry[],
  inventory: Partial<Record<InventoryView, ViEntity[]>>,
): string[] {
  const resolve = (entry: Entry): Vm[] => {
    if (entry.view === null) {
      const { name, objectId } = entry.object;
      return [{ name, key: objectId === null ? `name:${name}` : `ref:${objectId}` }];
    }
    const entities = inventory[entry.view];
    if (entities === undefined) throw notExpandable(job, entry.object, `the view ${entry.view} was not read`);
    return vmsUnder(job, { ...entry, view: entry.view }, entities);
  };
  const excluded = new Set<string>();
  const excludedNames = new Set<string>();
  for (const entry of entries.filter((e) => e.role === 'exclude')) {
    for (const vm of resolve(entry)) {
      excluded.add(vm.key);
      // An excluded VM entry without a moref can only be matched by its name.
      if (vm.key.startsWith('name:')) excludedNames.add(vm.name);
    }
  }
  const included = new Map<string, string>();
  for (const entry of entries.filter((e) => e.role === 'include')) {
    for (const vm of resolve(entry)) {
      if (!excluded.has(vm.key) && !excludedNames.has(vm.name) && !included.has(vm.key)) included.set(vm.key, vm.name);
    }
  }
  return [...new Set(included.values())];
}
