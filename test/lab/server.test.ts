import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interpretSession, sessionAfterStart, type StartFacts } from '../../activities/vendor/interpret-veeam';
import type { RawFvpVmMatches, RawSession, RawValue } from '../../activities/powershell/operations';
import { LabApiError, type LabClient } from '../../lab/client';
import { REPO_ROOT, startLab, type RunningLab } from '../../lab/launch';
import type { ScenarioInput } from '../../lab/scenario';

const WB = { mode: 'WriteBack', peers: 1, externalPeers: null } as const;
const QUICK: ScenarioInput = {
  fvp: { vms: [{ name: 'sql-01', requested: WB, writeIntervalMs: 10, destageMs: 100 }] },
  veeam: { jobs: [{ name: 'J', vms: ['sql-01'], startDelayMs: 50, taskMs: 100 }] },
  credentials: { veeam: { user: 'svc-veeam', password: 'Pa55-never-stored' } },
};
const VEEAM_CRED = { user: 'svc-veeam', password: 'Pa55-never-stored' };

async function rejects400(promise: Promise<unknown>, field: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof LabApiError, String(error));
    assert.equal(error.status, 400);
    assert.match(error.message, field);
    return true;
  });
}

async function result<T>(client: LabClient, ...args: Parameters<LabClient['call']>): Promise<T> {
  const envelope = await client.call(...args);
  if (!envelope.ok) assert.fail(`${args[1]} failed: ${JSON.stringify(envelope.error)}`);
  return envelope.result as T;
}

const dir = mkdtempSync(join(tmpdir(), 'lab-server-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the lab HTTP API', () => {
  let lab: RunningLab;
  before(async () => {
    lab = await startLab();
  });
  after(() => lab.stop());

  test('starts with the default scenario and says it is a simulator', async () => {
    const health = await lab.client.health();
    assert.equal(health.simulator, true);
    const state = await lab.client.state();
    assert.deepEqual(
      state.fvp.vms.map((vm) => vm.name),
      ['sql-01', 'app-01', 'web-01'],
    );
    assert.deepEqual(state.veeam.jobs[0]!.vms, ['sql-01', 'app-01', 'web-01']);
  });

  test('rejects bad input with a 400 naming the field', async () => {
    const { client, url } = lab;
    await rejects400(
      client.loadScenario({
        fvp: { vms: [{ name: 'x', requested: { mode: 'WriteBack', peers: 5, externalPeers: null } }] },
      }),
      /fvp\.vms\.0\.requested\.peers/,
    );
    await rejects400(client.loadScenario({ fvp: { vms: [{ name: '' }] } }), /fvp\.vms\.0\.name/);
    await rejects400(
      client.loadScenario({ veeam: { jobs: [{ name: 'J' }, { name: 'J' }] } } as never),
      /veeam\.jobs\.1\.name/,
    );
    await rejects400(
      client.invoke({ endpoint: 'fvp', op: 'Get-Doctor', args: {}, credential: null } as never),
      /\bpid\b/,
    );
    await rejects400(
      client.invoke({ endpoint: 'esx', pid: 1, op: 'x', args: {}, credential: null } as never),
      /endpoint/,
    );
    await rejects400(client.setFaults([{ action: 'explode' } as never]), /rules\.0\.action/);
    await rejects400(client.setManagementServer('yes' as never), /\bup\b/);
    await rejects400(
      client.setVmPolicy('sql-01', { mode: 'WriteBack', peers: 3, externalPeers: null }),
      /requested\.peers/,
    );
    await rejects400(client.setVmPolicy('nope', WB), /unknown VM "nope"/);
    await rejects400(client.invocations({ sinceSeq: -1 }), /sinceSeq/);
    const raw = await fetch(`${url}/faults`, { method: 'POST', body: '{not json' });
    assert.equal(raw.status, 400);
    assert.match(((await raw.json()) as { error: string }).error, /invalid JSON/);
    assert.equal((await fetch(`${url}/nope`)).status, 404);
    assert.equal((await fetch(`${url}/ps/invoke`)).status, 405);
    assert.equal((await client.state()).fvp.vms.length, 3, 'rejected scenarios change nothing');
  });

  test('hostile VM names travel byte for byte through the API', async () => {
    const names = [`x'; Remove-Item C:\\ -Recurse; '`, 'a/b%2F?#&=\n"`$(whoami)`', 'Ωmega ✓ 🚀', 'n'.repeat(4096)];
    await lab.client.loadScenario({ fvp: { vms: names.map((name) => ({ name, requested: WB })) } });
    await lab.client.connect('fvp', { pid: 5 });
    for (const name of names) {
      const policy = await result<RawFvpVmMatches>(lab.client, 'fvp', 'Get-VmCachePolicy', { vm: name }, { pid: 5 });
      assert.equal(policy.matches[0]?.vm.Name, name);
      const set = await lab.client.setVmPolicy(name, { mode: 'WriteThrough', peers: 0, externalPeers: null });
      assert.equal(set.name, name);
      assert.equal(set.requested.mode, 'WriteThrough');
    }
    const logged = (await lab.client.invocations({ op: 'Get-VmCachePolicy' })).invocations;
    assert.deepEqual(
      logged.map((r) => (r.args as { vm: string }).vm),
      names,
    );
    const timeline = await lab.client.timeline();
    assert.deepEqual(
      timeline.map((t) => t.events.at(-1)!.source),
      names.map(() => 'admin'),
    );
  });

  test('reset reloads the scenario from scratch', async () => {
    await lab.client.loadScenario(QUICK);
    await lab.client.connect('fvp', { pid: 8 });
    await lab.client.call('fvp', 'Set-VmWriteThrough', { vm: 'sql-01' }, { pid: 8 });
    await lab.client.setFaults([{ action: 'hang' }]);
    const state = await lab.client.reset();
    assert.equal(state.fvp.vms[0]!.requested.mode, 'WriteBack');
    assert.equal(state.counts.invocations, 0);
    assert.deepEqual(state.faults.rules, []);
    assert.deepEqual(state.connections, []);
    assert.deepEqual(state.credentials.veeam, { user: 'svc-veeam' }, 'credentials kept (as a hash)');
  });
});

describe('the lab process', () => {
  test('its state file survives a restart, and a SIGKILL', async () => {
    const stateFile = join(dir, 'state.json');
    const first = await startLab({ stateFile });
    let second: RunningLab | undefined;
    let third: RunningLab | undefined;
    try {
      const c = first.client;
      await c.loadScenario(QUICK);
      await c.connect('fvp', { pid: 21 });
      await c.connect('veeam', { pid: 22, credential: VEEAM_CRED });
      await c.call('fvp', 'Set-VmWriteThrough', { vm: 'sql-01' }, { pid: 21 });
      // The module's answers are raw; read as the worker reads them.
      const start = await result<StartFacts>(
        c,
        'veeam',
        'Start-BackupJob',
        { job: 'J', fullBackup: false, retryBackup: false },
        { pid: 22 },
      );
      const listed = await result<{ sessions: RawValue[] }>(
        c,
        'veeam',
        'Find-BackupSession',
        { job: 'J', lookup: 'GetByJob' },
        { pid: 22 },
      );
      const session = sessionAfterStart(listed.sessions, start, 'J')!;
      await c.setFaults([{ op: 'Get-VmFlushState', action: 'fail', times: 3 }], 5);
      await c.setManagementServer(false);
      const seq = (await c.invocations()).nextSeq;
      await first.stop();
      assert.equal(first.process.exitCode, 0, 'clean shutdown on SIGTERM');
      const saved = readFileSync(stateFile, 'utf8') + readFileSync(`${stateFile}.invocations.jsonl`, 'utf8');
      assert.doesNotMatch(saved, /Pa55-never-stored/, 'no credential value on disk');

      second = await startLab({ stateFile });
      const state = await second.client.state();
      assert.equal(state.fvp.vms[0]!.requested.mode, 'WriteThrough');
      assert.equal(state.fvp.managementServerUp, false);
      assert.equal(state.counts.sessionsByJob['J'], 1);
      assert.equal(state.faults.rules[0]!.remaining, 3);
      assert.equal(state.faults.seed, 5);
      assert.equal((await second.client.invocations()).nextSeq, seq);
      // The session kept running while the lab was down; the connected host process still is.
      const read = await result<{ matches: RawSession[] }>(
        second.client,
        'veeam',
        'Get-BackupSession',
        { sessionId: session.id },
        { pid: 22 },
      );
      const after = interpretSession(read.matches[0]!, 'J');
      assert.equal(after.state, 'Stopped');
      assert.equal(after.result, 'Success');
      const verdicts = await second.client.verdicts({ sessionId: session.id });
      assert.equal(verdicts.length, 1);
      const auth = await second.client.connect('veeam', { pid: 23, credential: { ...VEEAM_CRED, password: 'bad' } });
      assert.equal(!auth.ok && auth.error.message.includes('authentication failed'), true);

      await second.client.setManagementServer(true);
      await second.kill();
      third = await startLab({ stateFile });
      assert.equal((await third.client.state()).fvp.managementServerUp, true, 'written before the answer');
    } finally {
      await Promise.all([first.stop(), second?.stop(), third?.stop()]);
    }
  });

  test('a corrupt state file makes startLab reject with the lab stderr', async () => {
    const stateFile = join(dir, 'corrupt.json');
    writeFileSync(stateFile, '{"version": 1, "fvp": ');
    await assert.rejects(
      startLab({ stateFile }),
      /exited before it was ready[\s\S]*state file .*corrupt\.json is not valid JSON/,
    );
    writeFileSync(stateFile, '{"version": 2}');
    await assert.rejects(startLab({ stateFile }), /invalid state file: version/);
  });

  test('bad command-line arguments exit 2 with a message naming the flag', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'lab/main.ts'), ...args], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        timeout: 30_000,
      });
    const port = run('--port', 'http');
    assert.equal(port.status, 2);
    assert.match(port.stderr, /--port/);
    assert.equal(port.stdout, '');
    const unknown = run('--bogus');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /bogus/);
    const scenario = run('--scenario', join(dir, 'missing.yaml'));
    assert.equal(scenario.status, 2);
    assert.match(scenario.stderr, /--scenario/);
  });
});
