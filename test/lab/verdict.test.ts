import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeLab, type FakeLab } from '../../lab/testing';
import type { ScenarioInput } from '../../lab/scenario';

const WB = { mode: 'WriteBack', peers: 1, externalPeers: null } as const;
const START = { job: 'J', fullBackup: false, retryBackup: false };

function scenario(job: object = {}, vms: object[] = []): ScenarioInput {
  const busy = (name: string) => ({ name, requested: WB, writeIntervalMs: 10, destageMs: 300 });
  return {
    fvp: { waitTimeCapMs: 50, vms: [busy('sql-01'), busy('app-01'), ...vms] as never, proxies: [{ name: 'proxy-01' }] },
    veeam: { jobs: [{ name: 'J', vms: ['sql-01', 'app-01'], startDelayMs: 0, taskMs: 200, ...job }] },
  };
}

/** What a correct run does: switch, then poll until effective write-through and nothing to destage. */
async function switchAndVerify(f: FakeLab, vms: string[]): Promise<void> {
  for (const vm of vms) await f.ok('fvp', 'Set-VmWriteThrough', { vm });
  for (let i = 0; i < 100; i++) {
    const states = await Promise.all(vms.map((vm) => f.flush(vm)));
    if (states.every((s) => s.effective === 'WriteThrough' && s.timeToDestageSeconds === 0)) return;
    f.clock.advance(50);
  }
  assert.fail('flush did not complete');
}

describe('verdicts', () => {
  test('a backup taken in write-back with dirty data is inconsistent', async () => {
    const f = await fakeLab(scenario());
    f.clock.advance(1000);
    const t = f.clock.t;
    await f.ok('veeam', 'Start-BackupJob', START);
    f.clock.advance(1000);
    const verdicts = f.lab.verdicts({ job: 'J' });
    assert.deepEqual(
      verdicts.map((v) => [v.vm, v.snapshotAt - t, v.consistent, v.unflushedWrites]),
      [
        ['sql-01', 0, false, 30],
        ['app-01', 200, false, 30],
      ],
    );
    assert.equal(
      verdicts[0]!.reason,
      '30 acknowledged writes not yet on the array; effective policy WriteBack (requested WriteBack)',
    );
    assert.equal(verdicts[0]!.requestedModeAtSnapshot, 'WriteBack');
    assert.equal(verdicts[0]!.effectiveModeAtSnapshot, 'WriteBack');
  });

  test('after a verified flush the backup is consistent, and later changes do not rewrite the verdict', async () => {
    const f = await fakeLab(scenario());
    f.clock.advance(1000);
    await switchAndVerify(f, ['sql-01', 'app-01']);
    await f.ok('veeam', 'Start-BackupJob', START);
    f.clock.advance(400);
    for (const vm of ['sql-01', 'app-01']) await f.ok('fvp', 'Restore-VmCachePolicy', { vm, policy: WB });
    f.clock.advance(1000);
    const verdicts = f.lab.verdicts({ job: 'J' });
    assert.equal(verdicts.length, 2);
    for (const v of verdicts) {
      assert.equal(v.consistent, true, v.reason);
      assert.equal(v.unflushedWrites, 0);
      assert.equal(v.requestedModeAtSnapshot, 'WriteThrough');
      assert.equal(v.effectiveModeAtSnapshot, 'WriteThrough');
    }
  });

  test('trusting -WaitTimeSeconds (no verification) yields inconsistent backups', async () => {
    const f = await fakeLab(scenario());
    f.clock.advance(1000);
    for (const vm of ['sql-01', 'app-01']) await f.ok('fvp', 'Set-VmWriteThrough', { vm, waitTimeSeconds: 30 });
    await f.ok('veeam', 'Start-BackupJob', START);
    f.clock.advance(1000);
    const verdicts = f.lab.verdicts({ job: 'J' });
    assert.deepEqual(
      verdicts.map((v) => [
        v.vm,
        v.consistent,
        v.unflushedWrites,
        v.requestedModeAtSnapshot,
        v.effectiveModeAtSnapshot,
      ]),
      [
        ['sql-01', false, 19, 'WriteThrough', 'WriteBack'],
        ['app-01', false, 4, 'WriteThrough', 'WriteBack'],
      ],
    );
  });

  test('restoring write-back before the job snapshotted every VM makes the later VMs inconsistent', async () => {
    const f = await fakeLab(scenario());
    f.clock.advance(1000);
    await switchAndVerify(f, ['sql-01', 'app-01']);
    await f.ok('veeam', 'Start-BackupJob', START);
    f.clock.advance(200); // sql-01 read (0-200 ms), app-01 not snapshotted yet
    for (const vm of ['sql-01', 'app-01']) await f.ok('fvp', 'Restore-VmCachePolicy', { vm, policy: WB });
    f.clock.advance(1000);
    const verdicts = f.lab.verdicts({ job: 'J' });
    assert.deepEqual(
      verdicts.map((v) => [v.vm, v.consistent, v.writeBackWhileReadAt ?? null]),
      [
        ['sql-01', true, null],
        ['app-01', false, null],
      ],
    );
  });

  test('write-back given back while Veeam still reads the VM (its task not over) is inconsistent', async () => {
    const f = await fakeLab(scenario());
    f.clock.advance(1000);
    await switchAndVerify(f, ['sql-01', 'app-01']);
    const started = f.clock.t;
    await f.ok('veeam', 'Start-BackupJob', START);
    f.clock.advance(100); // sql-01 snapshotted at 0 and read until 200
    await f.ok('fvp', 'Restore-VmCachePolicy', { vm: 'sql-01', policy: WB });
    f.clock.advance(50);
    assert.deepEqual(f.lab.verdicts({ job: 'J' }), [], 'no verdict before the read is over');
    f.clock.advance(1000);
    const [sql, app] = f.lab.verdicts({ job: 'J' });
    assert.equal(sql?.consistent, false);
    assert.equal(sql?.unflushedWrites, 0, 'flushed at its snapshot');
    assert.equal(sql?.writeBackWhileReadAt, started + 100);
    assert.equal(sql?.readUntil, started + 200);
    assert.equal(sql?.reason, 'given write-back 100 ms after its snapshot, while Veeam still read it (until 200 ms)');
    assert.equal(app?.consistent, true, app?.reason);
  });

  test('idle VMs, hosts without flash and VMs unknown to FVP back up consistently in write-back', async () => {
    const f = await fakeLab(
      scenario({ vms: ['idle-01', 'noflash-01', 'physical-01'] }, [
        { name: 'idle-01', requested: WB, writeIntervalMs: 0, destageMs: 300 },
        { name: 'noflash-01', requested: WB, writeIntervalMs: 10, destageMs: 300, hostHasFlash: false },
      ]),
    );
    f.clock.advance(1000);
    await f.ok('veeam', 'Start-BackupJob', START);
    f.clock.advance(1000);
    const verdicts = f.lab.verdicts({ job: 'J' });
    assert.deepEqual(
      verdicts.map((v) => [v.vm, v.consistent, v.requestedModeAtSnapshot, v.effectiveModeAtSnapshot]),
      [
        ['idle-01', true, 'WriteBack', 'WriteBack'],
        ['noflash-01', true, 'WriteBack', 'WriteThrough'],
        ['physical-01', true, null, null],
      ],
    );
  });

  test('HotAdd also requires the job proxies to be VADP-blacklisted at snapshot time', async () => {
    const f = await fakeLab(scenario({ transportMode: 'HotAdd', proxies: ['proxy-01'] }));
    f.clock.advance(1000);
    await switchAndVerify(f, ['sql-01', 'app-01']);
    await f.ok('veeam', 'Start-BackupJob', START);
    f.clock.advance(100);
    await f.ok('fvp', 'Set-ProxyVadp', { vm: 'proxy-01', property: 'cachePolicy', value: 1 });
    f.clock.advance(1000);
    const verdicts = f.lab.verdicts({ job: 'J' });
    assert.deepEqual(
      verdicts.map((v) => [v.vm, v.consistent]),
      [
        ['sql-01', false],
        ['app-01', true],
      ],
    );
    assert.match(verdicts[0]!.reason, /HotAdd proxy not VADP-blacklisted: "proxy-01"/);
  });

  test('the timeline exposes write-through windows, including a VM left in write-through', async () => {
    const f = await fakeLab(scenario());
    f.clock.advance(1000);
    const switchedAt = f.clock.t;
    await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'sql-01' });
    await f.ok('fvp', 'Set-VmWriteThrough', { vm: 'app-01' });
    f.clock.advance(2000);
    const restoredAt = f.clock.t;
    await f.ok('fvp', 'Restore-VmCachePolicy', { vm: 'sql-01', policy: WB });
    const timeline = f.lab.timeline();
    const sql = timeline.find((t) => t.vm === 'sql-01')!;
    assert.deepEqual(sql.writeThroughWindows, [
      {
        requestedAt: switchedAt,
        effectiveAt: switchedAt + 290,
        endedAt: restoredAt,
        startSource: 'Set-VmWriteThrough',
        endSource: 'Restore-VmCachePolicy',
      },
    ]);
    assert.deepEqual(
      sql.events.map((e) => [e.source, e.requested.mode]),
      [
        ['scenario', 'WriteBack'],
        ['Set-VmWriteThrough', 'WriteThrough'],
        ['Restore-VmCachePolicy', 'WriteBack'],
      ],
    );
    const app = timeline.find((t) => t.vm === 'app-01')!;
    assert.equal(app.writeThroughWindows.length, 1);
    assert.equal(app.writeThroughWindows[0]!.endedAt, null, 'left in write-through');
    f.lab.setVmPolicy('app-01', { mode: 'WriteBack', peers: 2, externalPeers: null });
    const after = f.lab.timeline().find((t) => t.vm === 'app-01')!;
    assert.equal(after.writeThroughWindows[0]!.endSource, 'admin');
    assert.deepEqual(after.events.at(-1)!.requested, { mode: 'WriteBack', peers: 2, externalPeers: null });
  });
});
