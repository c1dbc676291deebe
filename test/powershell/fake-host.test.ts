/**
 * The fake PowerShell host on its own, driven line by line as node-powershell drives it: it must
 * understand exactly the contract's lines, refuse everything else loudly, and keep lines in order.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { startLab, type RunningLab } from '../../lab/launch';
import { FAKE_POWERSHELL } from '../../lab/fake-powershell/endpoint';
import { CREDENTIAL_ENV, FAKE_HOST_ENV } from '../../lab/protocol';
import { DEFAULT_MODULE_PATH } from '../../activities/powershell/pool';
import { initLine, invocationLine } from '../../activities/powershell/protocol';

let lab: RunningLab;

before(async () => {
  lab = await startLab();
});
after(async () => {
  await lab.stop();
});

interface Host {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  send(...lines: string[]): void;
  /** Resolves once stdout (or stderr) contains `text`. */
  until(text: string, stream?: 'stdout' | 'stderr', timeoutMs?: number): Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startHost(
  args = ['-NoLogo', '-NoProfile', '-NonInteractive', '-NoExit', '-Command', '-'],
  extraEnv = {},
): Host {
  const child = spawn(FAKE_POWERSHELL, args, {
    env: { ...process.env, [FAKE_HOST_ENV.labUrl]: lab.url, [FAKE_HOST_ENV.endpoint]: 'fvp', ...extraEnv },
  });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  const poke = () => waiters.forEach((w) => w());
  child.stdout.setEncoding('utf8').on('data', (d: string) => ((out += d), poke()));
  child.stderr.setEncoding('utf8').on('data', (d: string) => ((err += d), poke()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    send: (...lines) => child.stdin.write(lines.map((l) => `${l}\n`).join('')),
    until(text, stream = 'stdout', timeoutMs = 10_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if ((stream === 'stdout' ? out : err).includes(text)) {
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(
          () =>
            reject(
              new Error(`timed out waiting for ${JSON.stringify(text)} on ${stream}; stdout=${out} stderr=${err}`),
            ),
          timeoutMs,
        );
        waiters.push(check);
        check();
      });
    },
    exit,
  };
}

test('delimiter lines print their text on the right stream; end of input ends the process', async () => {
  const host = startHost();
  host.send('[Console]::Error.WriteLine("AbC123")', '[Console]::Out.WriteLine("XyZ789")');
  await host.until('XyZ789');
  await host.until('AbC123', 'stderr');
  host.child.stdin.end();
  assert.deepEqual(await host.exit, { code: 0, signal: null });
  assert.equal(host.stdout(), 'XyZ789\n', 'no logo with -NoLogo, nothing else');
  assert.equal(host.stderr(), 'AbC123\n');
});

test('any line outside the contract gets PowerShell\'s "not recognized" error on stderr', async () => {
  await lab.client.reset();
  const host = startHost();
  const good = initLine(DEFAULT_MODULE_PATH, { server: 'fvp-mgmt.lab.invalid' });
  const lines = [
    'Get-Process',
    `Invoke-Op "Get-Doctor" 'e30='`,
    `Invoke-Op 'Get-Doctor' 'e30=' ; Remove-Item C:\\`,
    `Invoke-Op 'Get-Doctor' '$(whoami)'`,
    `invoke-op 'Get-Doctor' 'e30='`,
    good.replace('-ErrorAction Stop', '-ErrorAction Continue'),
    ` ${good}`,
    '[Console]::Out.WriteLine("a b")',
    '[Console]::Out.WriteLine($env:FVPB_CRED_PASSWORD)',
  ];
  for (const [i, line] of lines.entries()) {
    host.send(line, `[Console]::Error.WriteLine("Mark${i}")`);
    await host.until(`Mark${i}`, 'stderr');
  }
  host.child.stdin.end();
  await host.exit;
  const errors = host
    .stderr()
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('Mark'));
  assert.equal(errors.length, lines.length, host.stderr());
  for (const e of errors) assert.match(e, /is not recognized as the name of a cmdlet/);
  assert.equal(host.stdout(), '', 'nothing reached stdout');
  assert.equal((await lab.client.invocations()).invocations.length, 0, 'nothing reached the lab');
});

test('Invoke-Op before the module is imported is unknown; a missing module path fails the import', async () => {
  const host = startHost();
  host.send(invocationLine('Get-Doctor', {}), '[Console]::Error.WriteLine("One")');
  await host.until('One', 'stderr');
  assert.match(host.stderr(), /'Invoke-Op' is not recognized/);
  host.send(
    initLine('/nonexistent/FvpBackup.psm1', { server: 'fvp-mgmt.lab.invalid' }),
    '[Console]::Error.WriteLine("Two")',
  );
  await host.until('Two', 'stderr');
  assert.match(host.stderr(), /Import-Module : The specified module '\/nonexistent\/FvpBackup.psm1' was not loaded/);
  host.child.kill('SIGKILL');
  await host.exit;
});

test('lines run strictly in order: a slow call is not overtaken by the delimiter lines behind it', async () => {
  await lab.client.reset();
  await lab.client.setFaults([{ op: 'Get-Doctor', action: 'delay', delayMs: 400 }]);
  try {
    const host = startHost(undefined, { [CREDENTIAL_ENV.user]: 'svc', [CREDENTIAL_ENV.password]: 'pw' });
    host.send(
      '[Console]::Out.WriteLine("Before")',
      initLine(DEFAULT_MODULE_PATH, { server: 'fvp-mgmt.lab.invalid' }),
      invocationLine('Get-Doctor', {}),
      '[Console]::Out.WriteLine("After")',
    );
    await host.until('After');
    const lines = host.stdout().trim().split('\n');
    assert.equal(lines.length, 4, host.stdout());
    assert.equal(lines[0], 'Before');
    assert.deepEqual(JSON.parse(lines[1] as string), { ok: true, op: 'Connect-Endpoint', result: { connected: true } });
    const doctor = JSON.parse(lines[2] as string) as { ok: boolean; op: string };
    assert.equal(doctor.ok, true);
    assert.equal(doctor.op, 'Get-Doctor');
    assert.equal(lines[3], 'After');
    const log = (await lab.client.invocations()).invocations;
    assert.deepEqual(
      log.map((r) => [r.op, r.pid, r.credentialSupplied]),
      [
        ['Connect-Endpoint', host.child.pid, true],
        ['Get-Doctor', host.child.pid, true],
      ],
    );
    host.child.stdin.end();
    assert.equal((await host.exit).code, 0);
  } finally {
    await lab.client.clearFaults();
  }
});

test('the simulator says what it is, and refuses to run anything but -Command -', async () => {
  const withLogo = startHost(['-NoExit', '-Command', '-']);
  withLogo.child.stdin.end();
  await withLogo.exit;
  assert.match(withLogo.stdout(), /simulator.*not Windows PowerShell/);

  const script = startHost(['-File', 'x.ps1']);
  const { code } = await script.exit;
  assert.notEqual(code, 0);
  assert.match(script.stderr(), /only runs `-Command -`|only reads commands from stdin/);
});
