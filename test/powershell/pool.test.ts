/**
 * The pool through the real node-powershell and the fake host: reuse, concurrency, credentials
 * (env and file) that reach the host and nothing else, and calls refused before anything is sent.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, type RunningLab } from '../../lab/launch';
import { defaultScenario } from '../../lab/scenario';
import { fakeEndpointConfig } from '../../lab/fake-powershell/endpoint';
import { environOf } from '../helpers/powershell';
import {
  createPowerShellClients,
  PowerShellError,
  PowerShellPool,
  PowerShellRequestError,
  type Logger,
  type OperationName,
  type PowerShellClients,
} from '../../activities/powershell';

const FVP_PASSWORD = 'Fvp-S3cr3t!pa$$ "quoted" \'x\'';
const VEEAM_PASSWORD = 'V33am_only-for-veeam#42';
const WRONG_PASSWORD = 'not-the-right-one-9f8e7d';

let lab: RunningLab;
let dir: string;
const cleanup: (() => Promise<void>)[] = [];

before(async () => {
  lab = await startLab();
  dir = mkdtempSync(join(tmpdir(), 'fvpb-pool-'));
});
after(async () => {
  await lab.stop();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((f) => f()));
  delete process.env.TEST_FVP_USER;
  delete process.env.TEST_FVP_PASSWORD;
});

function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const record = (level: string) => (obj: Record<string, unknown>, msg?: string) =>
    lines.push(JSON.stringify({ level, msg, ...obj }));
  return {
    lines,
    logger: { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') },
  };
}

function track<T extends PowerShellPool | PowerShellClients>(pool: T): T {
  cleanup.push(() => pool.close());
  return pool;
}

test('many calls share one long-lived process', async () => {
  await lab.client.loadScenario(defaultScenario());
  const pool = track(new PowerShellPool({ endpoint: 'fvp', config: fakeEndpointConfig('fvp', lab.url) }));
  for (let i = 0; i < 25; i += 1) {
    const vm = ['sql-01', 'app-01', 'web-01'][i % 3] as string;
    const policy = await pool.invoke('Get-VmCachePolicy', { vm });
    assert.equal(policy.matches[0]?.vm.Name, vm);
  }
  const log = (await lab.client.invocations()).invocations;
  assert.equal(log.length, 26, 'Connect-Endpoint once, then 25 calls');
  assert.equal(log[0]?.op, 'Connect-Endpoint');
  assert.equal(new Set(log.map((r) => r.pid)).size, 1, 'one process');
  assert.deepEqual(pool.stats(), { sessions: 1, busy: 0, started: 1, waiting: 0 });
});

test('concurrent calls use up to poolSize processes, then queue', async () => {
  await lab.client.loadScenario(defaultScenario());
  await lab.client.setFaults([{ op: 'Get-VmFlushState', action: 'delay', delayMs: 150 }]);
  const pool = track(
    new PowerShellPool({ endpoint: 'fvp', config: fakeEndpointConfig('fvp', lab.url, { poolSize: 2 }) }),
  );
  const calls = Array.from({ length: 8 }, (_, i) =>
    pool.invoke('Get-VmFlushState', { vm: ['sql-01', 'app-01', 'web-01'][i % 3] as string }),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(pool.stats().waiting >= 5, `calls wait for a session: ${JSON.stringify(pool.stats())}`);
  const results = await Promise.all(calls);
  assert.equal(results.length, 8);
  const log = (await lab.client.invocations({ op: 'Get-VmFlushState' })).invocations;
  assert.equal(new Set(log.map((r) => r.pid)).size, 2, 'two processes served the calls');
  assert.equal(pool.stats().started, 2);
  await lab.client.clearFaults();
});

test('credentials reach the host through its environment and nowhere else', async () => {
  await lab.client.loadScenario({
    ...defaultScenario(),
    credentials: {
      fvp: { user: 'svc-fvp', password: FVP_PASSWORD },
      veeam: { user: 'svc-veeam', password: VEEAM_PASSWORD },
    },
  });
  process.env.TEST_FVP_USER = 'svc-fvp';
  process.env.TEST_FVP_PASSWORD = FVP_PASSWORD;
  const secretFile = join(dir, 'veeam.json');
  writeFileSync(secretFile, JSON.stringify({ user: 'svc-veeam', password: VEEAM_PASSWORD }), { mode: 0o600 });
  const { logger, lines } = captureLogger();
  const errors: string[] = [];

  const clients = track(
    createPowerShellClients(
      {
        fvp: fakeEndpointConfig('fvp', lab.url, {
          credentials: { source: 'env', userVar: 'TEST_FVP_USER', passwordVar: 'TEST_FVP_PASSWORD' },
          invocationTimeoutMs: 800,
        }),
        veeam: fakeEndpointConfig('veeam', lab.url, { credentials: { source: 'file', path: secretFile } }),
      },
      logger,
    ),
  );
  const policy = await clients.fvp.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  assert.equal(policy.matches[0]?.vm.Name, 'sql-01');
  const job = await clients.veeam.invoke('Get-BackupJob', { job: 'Nightly-SQL' });
  assert.equal(job.job['Name'], 'Nightly-SQL');

  const log = (await lab.client.invocations()).invocations;
  const connects = log.filter((r) => r.op === 'Connect-Endpoint');
  assert.deepEqual(
    connects.map((r) => [r.endpoint, r.credentialSupplied]).sort(),
    [
      ['fvp', true],
      ['veeam', true],
    ],
    'the lab accepted both credentials',
  );

  // Each process has its own endpoint's credential under the contract's names, and no source variable.
  const fvpPid = log.find((r) => r.endpoint === 'fvp')?.pid as number;
  const veeamPid = log.find((r) => r.endpoint === 'veeam')?.pid as number;
  const fvpEnv = environOf(fvpPid);
  const veeamEnv = environOf(veeamPid);
  assert.equal(fvpEnv.get('FVPB_CRED_USER'), 'svc-fvp');
  assert.equal(fvpEnv.get('FVPB_CRED_PASSWORD'), FVP_PASSWORD);
  assert.equal(veeamEnv.get('FVPB_CRED_PASSWORD'), VEEAM_PASSWORD);
  for (const env of [fvpEnv, veeamEnv]) {
    assert.equal(env.has('TEST_FVP_PASSWORD'), false, 'source variables are not passed on');
    assert.equal(env.has('TEST_FVP_USER'), false);
  }
  assert.ok(
    ![...veeamEnv.values()].some((v) => v.includes(FVP_PASSWORD)),
    'the Veeam process never sees the FVP password',
  );

  // Failures of every kind, one of them with output that contains the password.
  const failing: Promise<unknown>[] = [];
  await lab.client.setFaults([
    { op: 'Get-VmFlushState', action: 'garbage', stdout: `oops ${FVP_PASSWORD} leaked`, times: 1 },
    { op: 'Get-VmCachePolicy', action: 'stderr', message: `Connect-PrnxServer -Password ${FVP_PASSWORD}`, times: 1 },
    { op: 'Set-VmWriteThrough', action: 'hang', times: 1 },
    { op: 'Get-ProxyVadp', action: 'fail', category: 'transient', message: `bad ${FVP_PASSWORD}`, times: 1 },
    { op: 'Get-BackupSession', action: 'die', times: 1 },
  ]);
  failing.push(clients.fvp.invoke('Get-VmFlushState', { vm: 'sql-01' }));
  failing.push(clients.fvp.invoke('Get-VmCachePolicy', { vm: 'sql-01' }));
  failing.push(clients.fvp.invoke('Set-VmWriteThrough', { vm: 'sql-01' }));
  failing.push(clients.fvp.invoke('Get-ProxyVadp', { vm: 'veeam-proxy-01' }));
  failing.push(clients.veeam.invoke('Get-BackupSession', { sessionId: 'x' }));
  for (const outcome of await Promise.allSettled(failing)) {
    assert.equal(outcome.status, 'rejected');
    const err: unknown = outcome.status === 'rejected' ? outcome.reason : undefined;
    assert.ok(err instanceof PowerShellError);
    errors.push(`${err.message} ${JSON.stringify(err)} ${err.stack ?? ''}`);
  }
  await lab.client.clearFaults();

  // A wrong password: the lab refuses the connection; the message names the user, not the password.
  process.env.TEST_FVP_PASSWORD = WRONG_PASSWORD;
  const wrong = track(
    new PowerShellPool({
      endpoint: 'fvp',
      logger,
      config: fakeEndpointConfig('fvp', lab.url, {
        credentials: { source: 'env', userVar: 'TEST_FVP_USER', passwordVar: 'TEST_FVP_PASSWORD' },
      }),
    }),
  );
  try {
    await wrong.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
    assert.fail('expected an authentication failure');
  } catch (err) {
    assert.ok(err instanceof PowerShellError);
    assert.equal(
      err.errorType,
      'System.UnauthorizedAccessException',
      'classified permanent by the rule for authentication',
    );
    assert.equal(err.retryable, false);
    errors.push(`${err.message} ${JSON.stringify(err)}`);
  }

  assert.equal(errors.length, 6);
  assert.ok(
    errors.some((e) => e.includes('***')),
    'leaked output was redacted',
  );
  assert.ok(lines.length >= 10, `the logger was used (${lines.length} lines)`);
  for (const text of [...errors, ...lines]) {
    for (const secret of [FVP_PASSWORD, VEEAM_PASSWORD, WRONG_PASSWORD]) {
      assert.ok(!text.includes(secret), `a secret leaked into: ${text.slice(0, 300)}`);
    }
  }
  assert.ok(lines.some((l) => l.includes('"op":"Get-VmCachePolicy"') && l.includes('"durationMs"')));
});

test('unknown operations, operations of the other endpoint and invalid arguments are refused before sending', async () => {
  await lab.client.loadScenario(defaultScenario());
  const pool = track(new PowerShellPool({ endpoint: 'fvp', config: fakeEndpointConfig('fvp', lab.url) }));
  const refused: [string, unknown, RegExp][] = [
    ['Remove-Item', { path: 'C:\\' }, /refused "Remove-Item": not an operation of FvpBackup.psm1/],
    ["Get-Doctor'; Remove-Item C:\\; '", {}, /not an operation/],
    ['toString', {}, /not an operation/],
    ['__proto__', {}, /not an operation/],
    ['get-vmcachepolicy', { vm: 'sql-01' }, /not an operation/],
    [
      'Start-BackupJob',
      { job: 'Nightly-SQL', fullBackup: false, retryBackup: false },
      /a veeam operation, this is the fvp pool/,
    ],
    ['Connect-Endpoint', { server: 'elsewhere' }, /sessions connect by themselves/],
    ['Get-VmCachePolicy', {}, /invalid arguments \(vm: /],
    ['Get-VmCachePolicy', { vm: '' }, /invalid arguments \(vm: /],
    ['Get-VmCachePolicy', { vm: 'sql-01', extra: '$(x)' }, /invalid arguments/],
    ['Get-VmCachePolicy', { vm: 42 }, /invalid arguments \(vm: /],
    ['Set-VmWriteThrough', { vm: 'sql-01', waitTimeSeconds: -1 }, /waitTimeSeconds/],
    [
      'Restore-VmCachePolicy',
      { vm: 'sql-01', policy: { mode: 'WriteBack', peers: 3, externalPeers: null } },
      /policy\.peers/,
    ],
    ['Get-VmCachePolicy', null, /invalid arguments/],
  ];
  for (const [op, args, message] of refused) {
    await assert.rejects(
      pool.invoke(op as OperationName, args as never),
      (err: unknown) => err instanceof PowerShellRequestError && err.retryable === false && message.test(err.message),
      `${op} ${JSON.stringify(args)}`,
    );
  }
  assert.equal(pool.stats().started, 0, 'no process was started');
  assert.equal((await lab.client.invocations()).invocations.length, 0, 'nothing reached the lab');
});

test('a closed pool refuses calls and leaves no process behind', async () => {
  await lab.client.loadScenario(defaultScenario());
  const pool = new PowerShellPool({ endpoint: 'fvp', config: fakeEndpointConfig('fvp', lab.url, { poolSize: 2 }) });
  await Promise.all([
    pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' }),
    pool.invoke('Get-VmCachePolicy', { vm: 'app-01' }),
  ]);
  const pids = [...new Set((await lab.client.invocations()).invocations.map((r) => r.pid))];
  assert.equal(pids.length, 2);
  await pool.close();
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `process ${pid} exited`);
  await assert.rejects(pool.invoke('Get-VmCachePolicy', { vm: 'sql-01' }), /the PowerShell pool is closed/);
});
