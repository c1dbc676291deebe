/**
 * The lab's VM identity (issue 10 item 4): a VM renamed in vCenter, mid-run included, keeps its
 * uuid, policy, dirty data and its jobs (Veeam follows it by moref, its live task shows the new
 * name), and the verdict judges that same VM; two VMs of two flash clusters may share a name.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RawFvpVmMatches, RawObject, RawSession } from '../../activities/powershell/operations';
import { LabApiError } from '../../lab/client';
import { startLab, type RunningLab } from '../../lab/launch';
import type { ScenarioInput } from '../../lab/scenario';
import { fakeLab, type FakeLab } from '../../lab/testing';

const WB = { mode: 'WriteBack', peers: 1, externalPeers: null } as const;
const WT = { mode: 'WriteThrough', peers: 0, externalPeers: null } as const;
const START = { job: 'J', fullBackup: false, retryBackup: false };
const busy = (name: string, extra: object = {}) => ({
  name,
  requested: WB,
  writeIntervalMs: 10,
  destageMs: 300,
  ...extra,
});

function scenario(extra: { vms?: object[]; objects?: object[] } = {}): ScenarioInput {
  return {
    fvp: { waitTimeCapMs: 50, vms: [busy('sql-01'), busy('web-01'), ...(extra.vms ?? [])] as never },
    veeam: {
      jobs: [
        {
          name: 'J',
          vms: ['sql-01', 'web-01'],
          objects: (extra.objects ?? []) as never,
          startDelayMs: 0,
          taskMs: 200,
          vmTasks: { 'web-01': { taskMs: 300 } },
        },
      ],
    },
  };
}

async function matches(f: FakeLab, vm: string): Promise<RawObject[]> {
  return ((await f.ok('fvp', 'Get-VmCachePolicy', { vm })) as RawFvpVmMatches).matches.map((m) => m.vm);
}

async function sessionTasks(f: FakeLab): Promise<string[]> {
  const [session] = f.lab.view().veeam.sessions;
  const found = (await f.ok('veeam', 'Get-BackupSession', { sessionId: session!.id })) as { matches: RawSession[] };
  return found.matches[0]!.tasks.map((t) => (t as RawObject).Name as string);
}

describe('a VM renamed in vCenter', () => {
  test('keeps its uuid, policy and dirty data: FVP lists it under its new name only', async () => {
    const f = await fakeLab(scenario());
    f.clock.advance(1000);
    const before = f.lab.view().fvp.vms.find((v) => v.name === 'web-01')!;
    await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'web-01' });
    assert.equal(f.lab.renameVm('web-01', 'web-02'), before.uuid);
    const after = f.lab.view().fvp.vms.find((v) => v.uuid === before.uuid)!;
    assert.equal(after.name, 'web-02');
    assert.deepEqual(after.requested, WT, 'the policy stays with the VM');
    assert.ok(after.timeToDestageSeconds > 0, 'so does its dirty data');
    assert.deepEqual(await matches(f, 'web-01'), [], 'no VM has the old name any more');
    const [renamed] = await matches(f, 'web-02');
    assert.equal(renamed?.uuid, before.uuid);
    assert.deepEqual(
      f.lab
        .timeline()
        .find((t) => t.vm === 'web-02')!
        .events.map((e) => e.source),
      ['scenario', 'Set-VmWriteThrough'],
    );
  });

  test('mid-session: Veeam keeps backing it up, its task shows the new name, and the verdict judges that VM', async () => {
    const f = await fakeLab(scenario());
    f.clock.advance(1000);
    await f.ok('veeam', 'Start-BackupJob', START);
    f.clock.advance(100); // sql-01's task runs; web-01's has not started
    f.lab.renameVm('web-01', 'web-02');
    assert.deepEqual(await sessionTasks(f), ['sql-01', 'web-02']);
    f.clock.advance(1000);
    const verdicts = f.lab.verdicts({ job: 'J' });
    assert.deepEqual(
      verdicts.map((v) => [v.vm, v.consistent, v.requestedModeAtSnapshot]),
      [
        ['sql-01', false, 'WriteBack'],
        // Judged on its own history: write-back with dirty data, not "not known to FVP".
        ['web-02', false, 'WriteBack'],
      ],
    );
    assert.equal(verdicts[1]!.unflushedWrites, 30);
    assert.equal(verdicts[1]!.readUntil! - verdicts[1]!.snapshotAt, 300, 'its own task time follows it');
    assert.deepEqual(f.lab.view().veeam.jobs[0]!.vms, ['sql-01', 'web-02'], 'the job still processes it');
  });

  test('a renamed VM backed up flushed is consistent', async () => {
    const f = await fakeLab(scenario());
    f.clock.advance(1000);
    await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'web-01' });
    await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'sql-01' });
    f.clock.advance(400);
    await f.ok('veeam', 'Start-BackupJob', START);
    f.clock.advance(100);
    f.lab.renameVm('web-01', 'web-02');
    f.clock.advance(1000);
    const verdict = f.lab.verdicts({ vm: 'web-02' })[0]!;
    assert.equal(verdict.consistent, true, verdict.reason);
    assert.match(verdict.reason, /all acknowledged writes on the array/);
  });

  test('an ended session keeps the old name; a verdict already due is given under it', async () => {
    const f = await fakeLab(scenario());
    f.clock.advance(1000);
    await f.ok('veeam', 'Start-BackupJob', START);
    f.clock.advance(2000); // ended, nobody asked for its verdicts yet
    f.lab.renameVm('web-01', 'web-02');
    assert.deepEqual(await sessionTasks(f), ['sql-01', 'web-01']);
    const verdict = f.lab.verdicts({ job: 'J' }).find((v) => v.vm === 'web-01');
    assert.equal(verdict?.unflushedWrites, 30, 'judged on the VM itself, before it was renamed');
  });

  test('Get-VBRJobObject keeps the name it was added with and its moref; the inventory shows the new name', async () => {
    const f = await fakeLab(scenario({ objects: [{ type: 'Folder', name: 'Web', vms: ['web-01'] }] }));
    const objectsBefore = ((await f.ok('veeam', 'Get-BackupJob', { job: 'J' })) as { objects: RawObject[] }).objects;
    const entitiesBefore = (
      (await f.ok('veeam', 'Get-ViEntities', { view: 'VMsAndTemplates' })) as { entities: RawObject[] }
    ).entities;
    f.lab.renameVm('web-01', 'web-02');
    const objects = ((await f.ok('veeam', 'Get-BackupJob', { job: 'J' })) as { objects: RawObject[] }).objects;
    assert.deepEqual(objects, objectsBefore, 'stale until a later job pass (never, in the lab)');
    const moref = objects.find((o) => o.Name === 'web-01')!['Object.ObjectId'];
    const entities = ((await f.ok('veeam', 'Get-ViEntities', { view: 'VMsAndTemplates' })) as { entities: RawObject[] })
      .entities;
    const vm = entities.filter((e) => e.Reference === moref);
    assert.deepEqual(
      vm.map((e) => [e.Name, e.Path]),
      [['web-02', 'vc01\\DC1\\Web\\web-02']],
      'the same moref, the new name, in the same folder',
    );
    assert.equal(entities.length, entitiesBefore.length);
  });

  test('refuses an unknown VM, and a name its flash cluster already has', async () => {
    const f = await fakeLab(scenario());
    assert.throws(() => f.lab.renameVm('nope-01', 'x'), /unknown VM "nope-01"/);
    assert.throws(() => f.lab.renameVm('web-01', 'sql-01'), /already named "sql-01"/);
  });
});

describe('same-name VMs in two flash clusters', () => {
  const twins = scenario({ vms: [busy('web-01', { flashCluster: 'FVP-Cluster-02' })] });

  test('two VMs, two uuids: a read by name sees both, a read by uuid one', async () => {
    const f = await fakeLab(twins);
    const both = await matches(f, 'web-01');
    assert.deepEqual(
      both.map((o) => o.flashCluster),
      ['FVP-Cluster-01', 'FVP-Cluster-02'],
    );
    assert.notEqual(both[0]!.uuid, both[1]!.uuid);
    const listed = ((await f.ok('fvp', 'Get-FvpVms', {})) as { vms: RawObject[] }).vms;
    assert.equal(listed.filter((o) => o.Name === 'web-01').length, 2);
    await assert.rejects(() => f.policy('web-01'), /2 FVP VMs are named "web-01"/);
  });

  test('a write by uuid reaches one; by -Name the lab writes every VM of the name (its pessimistic guess)', async () => {
    const f = await fakeLab(twins);
    const [one, twin] = f.lab.view().fvp.vms.filter((v) => v.name === 'web-01');
    await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'web-01', uuid: twin!.uuid });
    const requested = () =>
      f.lab
        .view()
        .fvp.vms.filter((v) => v.name === 'web-01')
        .map((v) => v.requested.mode);
    assert.deepEqual(requested(), ['WriteBack', 'WriteThrough']);
    await f.ok('fvp', 'Restore-VmCachePolicy', { vm: 'web-01', policy: WT });
    assert.deepEqual(requested(), ['WriteThrough', 'WriteThrough']);
    assert.ok(one);
  });

  test('the scenario refuses two VMs of one name in one flash cluster; renaming one of twins needs its uuid', async () => {
    const f = await fakeLab(twins);
    assert.throws(
      () => f.lab.loadScenario(scenario({ vms: [busy('web-01', { flashCluster: 'FVP-Cluster-01' })] })),
      /duplicate VM name in its flash cluster/,
    );
    assert.throws(() => f.lab.renameVm('web-01', 'web-09'), /2 VMs are named "web-01": give its uuid/);
    const twin = f.lab.view().fvp.vms[2]!;
    f.lab.renameVm('web-01', 'web-09', twin.uuid);
    assert.deepEqual(
      f.lab.view().fvp.vms.map((v) => v.name),
      ['sql-01', 'web-01', 'web-09'],
    );
    assert.deepEqual(f.lab.view().veeam.jobs[0]!.vms, ['sql-01', 'web-01'], "the job's VM is the first of the name");
  });
});

describe('POST /vms/<name>/rename', () => {
  let lab: RunningLab;
  before(async () => {
    lab = await startLab();
  });
  after(() => lab.stop());

  test('renames the VM (percent-encoded names), answers its view, and 400 for bad input', async () => {
    await lab.client.loadScenario(scenario({ vms: [busy('web[1] *')] }));
    const { vm } = await lab.client.renameVm('web[1] *', 'web/2?');
    assert.equal(vm.name, 'web/2?');
    assert.deepEqual(vm.requested, WB);
    const state = await lab.client.state();
    assert.deepEqual(
      state.fvp.vms.map((v) => v.name),
      ['sql-01', 'web-01', 'web/2?'],
    );
    for (const [name, body, message] of [
      ['nope', { to: 'x' }, /unknown VM/],
      ['web-01', { to: '' }, /to/],
      ['web-01', { to: 'x', extra: 1 }, /extra|unrecognized/i],
    ] as const) {
      const response = await fetch(`${lab.url}/vms/${encodeURIComponent(name)}/rename`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 400, name);
      assert.match(((await response.json()) as { error: string }).error, message);
    }
    await assert.rejects(
      () => lab.client.renameVm('web-01', 'sql-01'),
      (err: unknown) => err instanceof LabApiError && err.status === 400,
    );
  });
});
