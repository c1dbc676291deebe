/**
 * Job containers (issue 10 item 1): the VMs a Veeam job processes, from its raw Get-VBRJobObject
 * entries and the Find-VBRViEntity views. Expansion, exclusions, and every fail-closed case, on
 * hand-written raw output; then the product's reading of the lab's raw answers against the lab's own
 * model of what Veeam processes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import type { InventoryView, RawObject, RawValue } from '../../activities/powershell/operations';
import { DEFAULT_MODULE_PATH } from '../../activities/powershell/pool';
import { CONTAINER_NOT_EXPANDABLE } from '../../activities/vendor/containers';
import { evaluateFacts } from '../../activities/vendor/doctor-facts';
import { VEEAM } from '../../activities/vendor/facts';
import { VENDOR_MISMATCH } from '../../activities/vendor/interpret';
import { interpretJob, jobInventoryViews } from '../../activities/vendor/interpret-veeam';
import { addedObjects, processedVms, rawJobObjects, viEntities } from '../../lab/model/inventory';
import { ScenarioJob } from '../../lab/scenario';

const JOB: RawObject = { '@type': 'Veeam.Backup.Core.CBackupJob', Id: 'j1', Name: 'Nightly', IsRunning: false };

function object(name: string, viType: string | null, objectId: string | null, kind = 'Include'): RawObject {
  const o: RawObject = { '@type': 'Veeam.Backup.Core.CObjectInJob', Name: name, Type: kind };
  if (viType !== null) o['Object.ViType'] = viType;
  if (objectId !== null) o['Object.ObjectId'] = objectId;
  return o;
}
const entity = (name: string, type: string, path: string, reference: string): RawObject => ({
  '@type': 'Veeam.Backup.Core.Infos.CViItem',
  Name: name,
  Type: type,
  Path: path,
  Reference: reference,
});

/** A folder SQL (two VMs, one in a subfolder), a sibling folder SQL-old whose path shares the prefix, a loose VM. */
const VMS_AND_TEMPLATES: RawValue[] = [
  entity('SQL', 'Folder', 'vc\\DC\\SQL', 'group-v1'),
  entity('sql-01', 'Vm', 'vc\\DC\\SQL\\sql-01', 'vm-1'),
  entity('Sub', 'Folder', 'vc\\DC\\SQL\\Sub', 'group-v2'),
  entity('sql-02', 'VM', 'vc\\DC\\SQL\\Sub\\sql-02', 'vm-2'),
  entity('SQL-old', 'Folder', 'vc\\DC\\SQL-old', 'group-v3'),
  entity('sql-00', 'Vm', 'vc\\DC\\SQL-old\\sql-00', 'vm-0'),
  entity('web-01', 'Vm', 'vc\\DC\\vm\\web-01', 'vm-3'),
];
const TAGS: RawValue[] = [
  entity('Gold', 'Tag', 'vc\\Gold', 'urn:tag:gold'),
  entity('web-01', 'Vm', 'vc\\Gold\\web-01', 'vm-3'),
  entity('sql-01', 'Vm', 'vc\\Gold\\sql-01', 'vm-1'),
];

function job(objects: RawValue[]) {
  return { job: JOB, objects };
}

function fails(fn: () => unknown, type: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, type);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, message);
    return true;
  });
}

describe('expansion and exclusions', () => {
  test('a job of VMs only needs no inventory and lists its VMs', () => {
    const raw = job([object('sql-01', 'VirtualMachine', 'vm-1'), object('app-01', 'VirtualMachine', null)]);
    assert.deepEqual(jobInventoryViews(raw), []);
    assert.deepEqual(interpretJob(raw).vms, ['sql-01', 'app-01']);
  });

  test('a folder is every VM whose path is under it (subfolders too, not a sibling sharing its prefix)', () => {
    const raw = job([object('SQL', 'Folder', 'group-v1')]);
    assert.deepEqual(jobInventoryViews(raw), ['VMsAndTemplates']);
    assert.deepEqual(interpretJob(raw, { VMsAndTemplates: VMS_AND_TEMPLATES }).vms, ['sql-01', 'sql-02']);
  });

  test('folder + tag with one excluded VM: the union, once each, less the exclusion (by moref)', () => {
    const raw = job([
      object('SQL', 'Folder', 'group-v1'),
      object('Gold', 'Tag', 'urn:tag:gold'),
      object('sql-02', 'VirtualMachine', 'vm-2', 'Exclude'),
    ]);
    assert.deepEqual(jobInventoryViews(raw).sort(), ['Tags', 'VMsAndTemplates']);
    const vms = interpretJob(raw, { VMsAndTemplates: VMS_AND_TEMPLATES, Tags: TAGS }).vms;
    assert.deepEqual(vms, ['sql-01', 'web-01']);
  });

  test('an excluded container takes out every VM under it; option entries (VssChild) are not objects', () => {
    const raw = job([
      object('Gold', 'Tag', 'urn:tag:gold'),
      object('sql-00', 'VirtualMachine', 'vm-0'),
      object('Sub', 'Folder', 'group-v2', 'Exclude'),
      object('SQL', 'Folder', 'group-v1', 'Exclude'),
      object('web-01', 'VirtualMachine', 'vm-3', 'VssChild'),
    ]);
    assert.deepEqual(interpretJob(raw, { VMsAndTemplates: VMS_AND_TEMPLATES, Tags: TAGS }).vms, ['web-01', 'sql-00']);
  });

  test('every rule is a row of the facts table, unconfirmed where no evidence shows it', () => {
    for (const row of ['containerViews', 'viPathSeparator', 'jobObjectKinds'] as const) {
      assert.equal(VEEAM[row].status, 'unconfirmed', row);
    }
    assert.equal(VEEAM.containerViews.value.Folder, 'VMsAndTemplates');
    assert.equal(VEEAM.containerViews.value.StoragePod, undefined, 'no rule: a datastore cluster fails closed');
  });
});

describe('fail closed, before anything is read or changed', () => {
  test('a container type without a rule names the container, its type and what to do', () => {
    const raw = job([object('sql-01', 'VirtualMachine', 'vm-1'), object('Gold-DS', 'StoragePod', 'group-p1')]);
    const message =
      /Veeam job "Nightly": container "Gold-DS" \(StoragePod\) cannot be expanded to its VMs: no rule for the type StoragePod; add its VMs to the job individually, or correct the vendor-facts table .*; nothing was changed/;
    fails(() => jobInventoryViews(raw), CONTAINER_NOT_EXPANDABLE, message);
    fails(() => interpretJob(raw), CONTAINER_NOT_EXPANDABLE, message);
  });

  test('an excluded container without a rule fails too: which VMs it excludes is unknown', () => {
    const raw = job([
      object('sql-01', 'VirtualMachine', 'vm-1'),
      object('App', 'VirtualApp', 'resgroup-v1', 'Exclude'),
    ]);
    fails(() => jobInventoryViews(raw), CONTAINER_NOT_EXPANDABLE, /excluded container "App" \(VirtualApp\)/);
  });

  test('a container the view does not list (or lists twice) is not guessed at', () => {
    const raw = job([object('SQL', 'Folder', 'group-v9')]);
    fails(
      () => interpretJob(raw, { VMsAndTemplates: VMS_AND_TEMPLATES }),
      CONTAINER_NOT_EXPANDABLE,
      /"SQL" \(Folder\).*Find-VBRViEntity -VMsAndTemplates lists 0 entities with Reference "group-v9"/,
    );
    const twice = [...VMS_AND_TEMPLATES, entity('SQL', 'Folder', 'vc\\DC2\\SQL', 'group-v1')];
    fails(
      () => interpretJob(job([object('SQL', 'Folder', 'group-v1')]), { VMsAndTemplates: twice }),
      CONTAINER_NOT_EXPANDABLE,
      /lists 2 entities/,
    );
  });

  test('a container whose view was not read, or without an ObjectId to find it by', () => {
    fails(() => interpretJob(job([object('SQL', 'Folder', 'group-v1')])), CONTAINER_NOT_EXPANDABLE, /not read/);
    fails(
      () => jobInventoryViews(job([object('SQL', 'Folder', null)])),
      CONTAINER_NOT_EXPANDABLE,
      /no Object.ObjectId/,
    );
  });

  test('unreadable answers: no ViType, an unknown kind, an entity without a Path, a non-object', () => {
    fails(
      () => jobInventoryViews(job([object('SQL', null, 'group-v1')])),
      VENDOR_MISMATCH,
      /"SQL" has Object.ViType null/,
    );
    fails(
      () => jobInventoryViews(job([object('SQL', 'Folder', 'group-v1', 'Mystery')])),
      VENDOR_MISMATCH,
      /object "SQL" has Type "Mystery"/,
    );
    const { Path: _path, ...noPath } = VMS_AND_TEMPLATES[1] as RawObject;
    fails(
      () =>
        interpretJob(job([object('SQL', 'Folder', 'group-v1')]), {
          VMsAndTemplates: [VMS_AND_TEMPLATES[0] as RawObject, noPath],
        }),
      VENDOR_MISMATCH,
      /entity "sql-01" has Path null/,
    );
    fails(() => interpretJob(job(['SQL'])), VENDOR_MISMATCH, /job object is "SQL"/);
  });
});

describe("the lab's raw answers, read by the product, give the VMs the lab's Veeam processes", () => {
  test('folder, tag, a loose VM, an excluded VM and an excluded datastore', () => {
    const scenarioJob = ScenarioJob.parse({
      name: 'Mixed',
      vms: ['loose-01'],
      objects: [
        { type: 'Folder', name: 'SQL', vms: ['sql-01', 'sql-02', 'sql-03'] },
        { type: 'Tag', name: 'Gold', vms: ['web-01', 'sql-01'] },
        { type: 'VirtualMachine', name: 'sql-02', exclude: true },
        { type: 'Datastore', name: 'DS-scratch', vms: ['web-01'], exclude: true },
      ],
    });
    const state = { vms: processedVms(scenarioJob), objects: addedObjects(scenarioJob) };
    assert.deepEqual(state.vms, ['loose-01', 'sql-01', 'sql-03']);
    const raw = { job: JOB, objects: rawJobObjects(state) };
    const inventory: Partial<Record<InventoryView, RawValue[]>> = {};
    for (const view of jobInventoryViews(raw)) inventory[view] = viEntities([state], ['loose-01', 'other-01'], view);
    assert.deepEqual(interpretJob(raw, inventory).vms.sort(), [...state.vms].sort());
  });
});

describe('doctor', () => {
  test("prints each job's objects with their kind and type, raw, under the container rules' row", () => {
    const objects = 'SQL [Include, Folder]; web-02 [Exclude, VirtualMachine]';
    const facts = evaluateFacts('veeam', [
      {
        probe: 'job schedule and objects',
        subject: 'Nightly',
        result: { ok: true, values: [{ '@type': 'System.Management.Automation.PSCustomObject', Objects: objects }] },
      },
    ]);
    const row = facts.find((f) => f.row === 'VEEAM.containerViews (job "Nightly")');
    assert.deepEqual(row, { row: row?.row, status: 'unconfirmed', verdict: 'not-checked', saw: objects });
  });
});

describe('the module projects what the rules read', () => {
  test('Get-BackupJob projects kind, ViType and ObjectId; Get-ViEntities the entity properties', () => {
    const psm1 = readFileSync(DEFAULT_MODULE_PATH, 'utf8');
    const jobObject = /VbrJobObject = @\(([^)]*)\)/.exec(psm1)?.[1] ?? '';
    for (const name of [
      VEEAM.jobObjectTypeProperty.value,
      VEEAM.jobObjectViTypeProperty.value,
      VEEAM.jobObjectIdProperty.value,
    ]) {
      assert.ok(jobObject.includes(`'${name}'`), `Get-VBRJobObject projection has ${name}`);
    }
    const entities = /function Get-ViEntities[\s\S]*?-Properties @\(([^)]*)\)/.exec(psm1)?.[1] ?? '';
    for (const name of Object.values(VEEAM.viEntityProperties.value)) {
      assert.ok(entities.includes(`'${name}'`), `Find-VBRViEntity projection has ${name}`);
    }
  });
});
