/**
 * The lab's `server-restart` fault on a fake clock: connections made before the restart answer an
 * expired-session error on every call until their process connects again; newer ones never do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../../lab/lab';
import { fakeLab } from '../../lab/testing';
import type { ScenarioInput } from '../../lab/scenario';

const WB = { mode: 'WriteBack', peers: 1, externalPeers: null } as const;
const SCENARIO: ScenarioInput = {
  fvp: { vms: [{ name: 'sql-01', requested: WB, writeIntervalMs: 10, destageMs: 100 }] },
  veeam: { jobs: [{ name: 'J', vms: ['sql-01'], startDelayMs: 0, taskMs: 100 }] },
};
const VM = { vm: 'sql-01' };

test('a restart invalidates older connections of its endpoint until they reconnect', async () => {
  const f = await fakeLab(SCENARIO);
  f.clock.advance(1000);
  const restartAt = f.clock.now();
  const view = f.lab.setFaults({ rules: [{ endpoint: 'fvp', action: 'server-restart', category: 'permanent' }] });
  assert.equal(view.rules[0]?.rule.restartedAt, restartAt, 'the restart happened when the rule was set');
  f.clock.advance(1000);

  // Process 1 connected before the restart: every call fails, none is performed.
  for (const op of ['Get-VmCachePolicy', 'Set-VmWriteThrough'] as const) {
    const failed = await f.call('fvp', op, VM);
    assert.equal(failed.ok, false, op);
    assert.deepEqual(!failed.ok && [failed.error.type, failed.error.category], ['Unauthorized', 'permanent']);
    assert.match(!failed.ok ? failed.error.message : '', /\(401\) Unauthorized/);
  }
  assert.equal(f.lab.view().fvp.vms[0]?.requested.mode, 'WriteBack', 'nothing was performed');
  // The other endpoint did not restart.
  assert.equal((await f.call('veeam', 'Get-BackupJob', { job: 'J' })).ok, true);

  // A process that connects after the restart is not affected...
  assert.equal((await f.call('fvp', 'Connect-Endpoint', { server: 'fvp' }, 2)).ok, true);
  assert.equal((await f.call('fvp', 'Get-VmCachePolicy', VM, 2)).ok, true);
  // ...and process 1 recovers by connecting again.
  assert.equal((await f.call('fvp', 'Connect-Endpoint', { server: 'fvp' })).ok, true);
  assert.equal((await f.call('fvp', 'Set-VmWriteThrough', VM)).ok, true);
  assert.equal(f.lab.faults().rules[0]?.applied, 2, 'only the calls on the stale connection count');
});

test('a restart time can be given, and it survives a reload of the state', async () => {
  const f = await fakeLab(SCENARIO);
  f.clock.advance(1000);
  const restartedAt = f.clock.now() - 5000;
  f.lab.setFaults({ rules: [{ action: 'server-restart', restartedAt }] });
  // Process 1 connected when the lab started, after that restart time: it is not affected.
  assert.equal((await f.call('fvp', 'Get-VmCachePolicy', VM)).ok, true);
  const reloaded = Lab.parseState(JSON.parse(JSON.stringify(f.lab.state)));
  assert.equal(reloaded.faults.rules[0]?.rule.restartedAt, restartedAt);
});
