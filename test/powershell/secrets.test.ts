/**
 * Secrets at the PowerShell boundary, through the real node-powershell and the fake host: a password
 * with the characters JSON escapes (`"`, `\`) or cut by the excerpt limit never survives in an error
 * message, and the PowerShell process inherits only an allow-list of the worker's environment.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLab, type RunningLab } from '../../lab/launch';
import { defaultScenario } from '../../lab/scenario';
import { fakeEndpointConfig } from '../../lab/fake-powershell/endpoint';
import { environOf } from '../helpers/powershell';
import { createPowerShellClients, PowerShellError, type PowerShellClients } from '../../activities/powershell';

/** JSON escapes `"` and `\`: the escaped form differs from the raw one in two places. */
const PASSWORD = 'Qz"k\\9-fvp-unique-Pw';
const VEEAM_PASSWORD = 'Vm-only-veeam-5e3a';
const API_KEY = 'temporal-api-key-7f00d';
const UNRELATED = 'some-unrelated-secret-4b1c';

const saved = { ...process.env };
let lab: RunningLab;
const clients: PowerShellClients[] = [];

before(async () => {
  lab = await startLab();
});
after(async () => {
  await lab.stop();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
});

async function start(): Promise<PowerShellClients> {
  await lab.client.loadScenario({
    ...defaultScenario(),
    credentials: {
      fvp: { user: 'svc-fvp', password: PASSWORD },
      veeam: { user: 'svc-veeam', password: VEEAM_PASSWORD },
    },
  });
  process.env.SECRETS_TEST_FVP_USER = 'svc-fvp';
  process.env.SECRETS_TEST_FVP_PASSWORD = PASSWORD;
  process.env.SECRETS_TEST_VEEAM_USER = 'svc-veeam';
  process.env.SECRETS_TEST_VEEAM_PASSWORD = VEEAM_PASSWORD;
  const c = createPowerShellClients({
    fvp: fakeEndpointConfig('fvp', lab.url, {
      credentials: { source: 'env', userVar: 'SECRETS_TEST_FVP_USER', passwordVar: 'SECRETS_TEST_FVP_PASSWORD' },
    }),
    veeam: fakeEndpointConfig('veeam', lab.url, {
      credentials: { source: 'env', userVar: 'SECRETS_TEST_VEEAM_USER', passwordVar: 'SECRETS_TEST_VEEAM_PASSWORD' },
    }),
  });
  clients.push(c);
  return c;
}

/** Every text form in which (part of) the password could show: raw, JSON-escaped, and their starts. */
function leakedForms(secret: string): string[] {
  const escaped = JSON.stringify(secret).slice(1, -1);
  return [secret, escaped, secret.slice(0, 6), escaped.slice(0, 7)];
}

async function failureText(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof PowerShellError, `a PowerShellError, got ${String(err)}`);
    return `${err.message}\n${JSON.stringify(err)}\n${err.stack ?? ''}`;
  }
  assert.fail('expected the call to fail');
}

test('a password with quotes and backslashes, or cut at the excerpt limit, never survives in an error', async () => {
  const ps = await start();
  const wrongShape = JSON.stringify({ ok: true, op: 'Get-VmFlushState', result: { vm: 'sql-01', note: PASSWORD } });
  await lab.client.setFaults([
    // stdout that is not an envelope: the excerpt JSON-escapes the password.
    { op: 'Get-VmCachePolicy', action: 'garbage', stdout: `oops ${PASSWORD} leaked`, times: 1 },
    // stderr: the same, through node-powershell's InvocationError.
    { op: 'Get-ProxyVadp', action: 'stderr', message: `Connect-PrnxServer -Password ${PASSWORD}`, times: 1 },
    // cut by the 200-character limit in the middle of the password.
    { op: 'Get-VmFlushState', action: 'stderr', message: `${'x'.repeat(195)}${PASSWORD}`, times: 1 },
  ]);
  const texts = [
    await failureText(ps.fvp.invoke('Get-VmCachePolicy', { vm: 'sql-01' })),
    await failureText(ps.fvp.invoke('Get-ProxyVadp', { vm: 'veeam-proxy-01' })),
    await failureText(ps.fvp.invoke('Get-VmFlushState', { vm: 'sql-01' })),
  ];
  // A well-formed envelope whose result has the wrong shape: its result is quoted as JSON.
  await lab.client.setFaults([{ op: 'Get-VmFlushState', action: 'garbage', stdout: wrongShape, times: 1 }]);
  texts.push(await failureText(ps.fvp.invoke('Get-VmFlushState', { vm: 'sql-01' })));
  await lab.client.clearFaults();

  assert.ok(
    texts.every((t) => t.includes('***')),
    `every message shows the redaction:\n${texts.join('\n---\n')}`,
  );
  for (const text of texts) {
    for (const form of leakedForms(PASSWORD)) {
      assert.ok(!text.includes(form), `${JSON.stringify(form)} leaked into: ${text.slice(0, 400)}`);
    }
  }
});

test('the PowerShell process inherits an allow-list of the worker environment: no TEMPORAL_*, no other secret', async () => {
  process.env.TEMPORAL_API_KEY = API_KEY;
  process.env.TEMPORAL_TLS_CLIENT_KEY_PATH = '/run/secrets/temporal.key';
  process.env.SOME_SERVICE_TOKEN = UNRELATED;
  process.env.LC_TIME = 'C.UTF-8';
  const ps = await start();
  await ps.fvp.invoke('Get-VmCachePolicy', { vm: 'sql-01' });
  await ps.veeam.invoke('Get-BackupJob', { job: 'Nightly-SQL' });
  const log = (await lab.client.invocations()).invocations;
  for (const endpoint of ['fvp', 'veeam'] as const) {
    const pid = log.find((r) => r.endpoint === endpoint)?.pid;
    assert.ok(pid !== undefined, `the ${endpoint} host was called`);
    const env = environOf(pid);
    const names = [...env.keys()];
    assert.deepEqual(
      names.filter((n) => n.startsWith('TEMPORAL_')),
      [],
      `${endpoint}: no Temporal setting reaches PowerShell`,
    );
    assert.equal(env.has('SOME_SERVICE_TOKEN'), false, `${endpoint}: unrelated variables stay in the worker`);
    assert.ok(![...env.values()].some((v) => v.includes(API_KEY) || v.includes(UNRELATED)));
    assert.equal(
      names.some((n) => n.startsWith('SECRETS_TEST_')),
      false,
      `${endpoint}: credential sources stay in the worker`,
    );
    // What a shell needs to run is there.
    assert.equal(env.get('PATH'), process.env.PATH);
    assert.equal(env.get('LC_TIME'), 'C.UTF-8');
    assert.equal(env.get('FVPB_ENDPOINT'), endpoint);
  }
  const fvpEnv = environOf(log.find((r) => r.endpoint === 'fvp')?.pid as number);
  const veeamEnv = environOf(log.find((r) => r.endpoint === 'veeam')?.pid as number);
  assert.equal(fvpEnv.get('FVPB_CRED_PASSWORD'), PASSWORD, 'each process gets its own credential');
  assert.equal(veeamEnv.get('FVPB_CRED_PASSWORD'), VEEAM_PASSWORD);
  assert.ok(![...veeamEnv.values()].some((v) => v.includes(PASSWORD)), 'never the other endpoint’s');
});
