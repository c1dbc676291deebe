/**
 * The PowerShell module cannot run here (no PowerShell, no vendor modules), so its text is checked
 * against the contract: operations, environment names, 5.1 compatibility, -ErrorAction Stop. The
 * wire text the TypeScript side builds is checked too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULT_MODULE_PATH } from '../../activities/powershell/pool';
import { HOST_ENV, childEnvironment } from '../../activities/powershell/environment';
import { EndpointConfig } from '../../activities/powershell/config';
import { initLine, invocationLine, parseOutput } from '../../activities/powershell/protocol';
import { parseSecretFile, CredentialError } from '../../activities/powershell/credentials';
import { excerpt, redact } from '../../activities/powershell/errors';
import { operationNames, type OperationName } from '../../activities/powershell/operations';
import { FVP, VEEAM } from '../../activities/vendor/facts';
import { CREDENTIAL_ENV, FAKE_HOST_ENV } from '../../lab/protocol';

const psm1 = readFileSync(DEFAULT_MODULE_PATH, 'utf8');
/** The module without comments. */
const uncommented = psm1
  .replace(/<#[\s\S]*?#>/g, '')
  .split('\n')
  .map((line) => line.replace(/^\s*#.*$/, '').replace(/\s#\s.*$/, ''))
  .join('\n');
/** ... and without string contents, for syntax scans. */
const code = uncommented
  .split('\n')
  .map((line) => line.replace(/'[^']*'/g, "''").replace(/"[^"]*"/g, '""'))
  .join('\n');

test('the module defines and allow-lists exactly the operations of operations.ts', () => {
  const allowList = /\$script:OperationNames = @\(([\s\S]*?)\)/.exec(psm1);
  assert.ok(allowList, 'allow-list found');
  const listed = [...(allowList[1] as string).matchAll(/'([A-Za-z-]+)'/g)].map((m) => m[1]);
  assert.deepEqual([...listed].sort(), [...operationNames].sort());
  for (const op of operationNames) {
    assert.match(psm1, new RegExp(`^function ${op} \\{`, 'm'), `function ${op} is defined`);
  }
  assert.match(psm1, /^function Invoke-Op \{[^\n]*\n\s*param\(\[string\]\$Name, \[string\]\$ArgsBase64\)/m);
  // Errors leave the module as raw facts; classify.ts decides what they mean (issue 11).
  assert.match(psm1, /^function ConvertTo-ErrorFacts \{/m);
  assert.doesNotMatch(uncommented, /Get-ErrorCategory|ErrorRules|DefaultErrorCategory|category/i);
});

test('the module, the TypeScript side and the lab agree on environment variable names', () => {
  assert.equal(HOST_ENV.credentialUser, CREDENTIAL_ENV.user);
  assert.equal(HOST_ENV.credentialPassword, CREDENTIAL_ENV.password);
  assert.equal(HOST_ENV.endpoint, FAKE_HOST_ENV.endpoint);
  assert.match(psm1, new RegExp(`\\$script:EnvCredentialUser = '${HOST_ENV.credentialUser}'`));
  assert.match(psm1, new RegExp(`\\$script:EnvCredentialPassword = '${HOST_ENV.credentialPassword}'`));
  assert.match(psm1, new RegExp(`\\$script:EnvEndpoint = '${HOST_ENV.endpoint}'`));
  assert.match(psm1, new RegExp(`\\$script:EnvRemoteComputer = '${HOST_ENV.remoteComputer}'`));
  assert.match(psm1, new RegExp(`\\$script:EnvRemoteConfiguration = '${HOST_ENV.remoteConfiguration}'`));
});

test('the module avoids what Windows PowerShell 5.1 lacks', () => {
  assert.doesNotMatch(code, /\?\?/, 'no ?? operator');
  assert.doesNotMatch(code, /\?\./, 'no ?. operator');
  assert.doesNotMatch(code, /\s\?\s[^:\n]+\s:\s/, 'no ternary');
  assert.doesNotMatch(code, /-AsHashtable/i, 'no ConvertFrom-Json -AsHashtable');
  assert.doesNotMatch(code, /\bclass\s+\w+/, 'no PowerShell classes');
  for (const call of code.match(/ConvertTo-Json[^\n]*/g) ?? []) {
    assert.match(call, /-Depth \d+/, `ConvertTo-Json with -Depth: ${call}`);
    assert.match(call, /-Compress/, `ConvertTo-Json -Compress: ${call}`);
  }
  assert.match(psm1, /\[Console\]::OutputEncoding = New-Object System\.Text\.UTF8Encoding \$false/);
  assert.match(psm1, /\[Console\]::Out\.WriteLine\(\$json\)/);
  assert.match(psm1, /\.ToString\('o'\)/);
});

test('every vendor cmdlet call stops on error', () => {
  const lines = code.split('\n');
  const vendorCall = /(?<![\w-])(Connect|Disconnect|Get|Set|Start|Stop)-(Prnx|VBR)\w*\b(?!\s*=)/;
  let calls = 0;
  lines.forEach((line, index) => {
    if (!vendorCall.test(line) || /^\s*'?[\w-]*'?\s*=/.test(line)) return;
    calls += 1;
    if (/-ErrorAction Stop\b/.test(line)) return;
    const splat = /\s@(\w+)/.exec(line);
    assert.ok(splat, `line ${index + 1} calls a vendor cmdlet without -ErrorAction Stop: ${line.trim()}`);
    // The splatted hashtable must be built with ErrorAction = 'Stop' (strings were blanked: look at the source).
    const definition = new RegExp(`\\$${splat[1]} = @\\{[^}]*ErrorAction = 'Stop'`);
    assert.match(psm1, definition, `line ${index + 1}: @${splat[1]} carries ErrorAction = 'Stop'`);
  });
  assert.ok(calls >= 12, `found ${calls} vendor calls`);
  assert.match(psm1, /Stop-VBRJob -Job \$job [^\n]*-Confirm:\$false/);
  assert.match(psm1, /Start-VBRJob @start/);
  assert.match(psm1, /\$start = @\{ Job = \$job; RunAsync = \$true; ErrorAction = 'Stop' \}/);
});

test('the module projects exactly the properties the vendor-facts table names', () => {
  const list = (key: string) => {
    const m = new RegExp(`${key}\\s*= @\\(([^)]*)\\)`).exec(psm1);
    assert.ok(m, `projection list ${key}`);
    return [...(m[1] as string).matchAll(/'([^']+)'/g)].map((x) => x[1]);
  };
  const vmProperties = [
    FVP.vmNameProperty,
    FVP.vmUuidProperty,
    FVP.vmEffectivePolicyProperty,
    FVP.vmPeersProperty,
    FVP.vmExternalPeersProperty,
    FVP.vmFlashClusterProperty,
  ].map((f) => f.value);
  for (const name of [...vmProperties, FVP.vadpBlacklist.value.property]) {
    assert.ok(list('PrnxVm').includes(name), `Get-PrnxVM projection has ${name}`);
  }
  assert.deepEqual(list('PrnxStats'), [FVP.timeToDestageProperty.value]);
  assert.deepEqual(list('PrnxServer'), [FVP.serverBuildProperty.value, FVP.serverLicenceProperty.value]);
  assert.deepEqual(
    list('VbrSession').sort(),
    [...VEEAM.sessionProperties.value, VEEAM.progressPercentsProperty.value].sort(),
  );
  assert.ok(list('VbrJob').includes(VEEAM.jobIsRunningProperty.value));
  assert.ok(list('VbrJobObject').includes(VEEAM.jobObjectTypeProperty.value));
  assert.deepEqual(list('VbrTask').sort(), ['Name', 'Progress', VEEAM.progressPercentsProperty.value, 'Status'].sort());
});

test('no decision is left in the module: no vendor text, code, default or comparison of the facts table', () => {
  // Outside the fixed projection lists, the module names no fact: TypeScript owns the table.
  const body = uncommented.replace(/\$script:Project = @\{[\s\S]*?\n\}/, '');
  for (const literal of [
    'WRITE_',
    "'7'",
    'time_to_destage',
    'effectivePolicy',
    'licensedFeatures',
    'FAULT_DOMAIN',
    'flashCluster -',
    "'Include'",
    'Success',
    'Percents',
    '1971',
    '1900',
    '$script:Fvp',
    '$script:Veeam',
    'expected',
    'samePolicy',
    "'Stopped'",
    'prnxcli',
    'Veeam.Backup.PowerShell',
    'cachePolicy',
  ]) {
    assert.ok(!body.includes(literal), `the module does not decide with ${literal}`);
  }
  for (const gone of [
    'Test-SamePolicy',
    'Assert-ExpectedPolicy',
    'ConvertTo-CacheMode',
    'ConvertTo-SessionDocument',
    'Format-Date',
  ]) {
    assert.doesNotMatch(psm1, new RegExp(`function ${gone}\\b`), `${gone} is gone`);
  }
});

test('invocation and init lines carry values only as base64, on one line', () => {
  const args = { vm: "x'; Remove-Item C:\\ -Recurse; '\n$(whoami)" };
  const line = invocationLine('Get-VmCachePolicy', args);
  const match = /^Invoke-Op 'Get-VmCachePolicy' '([A-Za-z0-9+/]*={0,2})'$/.exec(line);
  assert.ok(match, line);
  assert.deepEqual(JSON.parse(Buffer.from(match[1] as string, 'base64').toString('utf8')), args);

  const path = "/opt/it's here/$(x)/FvpBackup.psm1";
  const init = initLine(path, { server: 'fvp.example', port: 443 });
  assert.ok(!init.includes('\n') && !init.includes("it's"), 'one line, path not pasted');
  const b64 = [...init.matchAll(/'([A-Za-z0-9+/]*={0,2})'/g)].map((m) => m[1] as string);
  assert.equal(Buffer.from(b64[0] as string, 'base64').toString('utf8'), path);
  assert.match(init, / Invoke-Op 'Connect-Endpoint' '[A-Za-z0-9+/]*={0,2}'$/);
  assert.deepEqual(JSON.parse(Buffer.from(b64[1] as string, 'base64').toString('utf8')), {
    server: 'fvp.example',
    port: 443,
  });
  assert.throws(() => invocationLine("Get-Doctor'; evil" as OperationName, {}), /not an operation/);
});

test('output parsing accepts exactly one envelope of the called operation', () => {
  const good = JSON.stringify({ ok: true, op: 'Get-Doctor', result: {} });
  assert.equal(parseOutput('Get-Doctor', good).ok, true);
  assert.equal(parseOutput('Get-Doctor', `\uFEFF${good}\r\n`).ok, true, 'BOM and line end tolerated');
  const cases: [string, RegExp][] = [
    ['', /printed nothing/],
    [`${good}\n${good}`, /not one JSON document/],
    ['WARNING: x', /not one JSON document/],
    ['{"ok":true}', /not an Invoke-Op envelope/],
    [JSON.stringify({ ok: false, op: 'Get-Doctor', error: { type: 'X', message: 'm', category: 'odd' } }), /envelope/],
    [JSON.stringify({ ok: true, op: 'Get-VmCachePolicy', result: {} }), /another operation/],
  ];
  for (const [raw, reason] of cases) {
    const parsed = parseOutput('Get-Doctor', raw);
    assert.equal(parsed.ok, false, raw);
    if (!parsed.ok) assert.match(parsed.reason, reason);
  }
});

test('secret files: JSON or two lines, and errors never quote the content', () => {
  assert.deepEqual(parseSecretFile('{"user":"svc","password":"p w"}', 'f'), { user: 'svc', password: 'p w' });
  assert.deepEqual(parseSecretFile('svc\r\n pass word \n', 'f'), { user: 'svc', password: ' pass word ' });
  for (const bad of [
    '{"user":"svc","password":"hunter2"',
    'only-one-line-hunter2\n',
    'a\nhunter2\nc',
    '{"user":"svc"}',
  ]) {
    assert.throws(
      () => parseSecretFile(bad, '/run/secret'),
      (err: unknown) =>
        err instanceof CredentialError && !err.message.includes('hunter2') && err.message.includes('/run/secret'),
    );
  }
  assert.equal(redact('pw=hunter2 and hunter2', ['hunter2']), 'pw=*** and ***');
  assert.equal(excerpt('a\n'.repeat(300)).length < 420, true);
});

test('the child environment carries this endpoint only, minus every credential source', () => {
  const config = EndpointConfig.parse({
    executable: 'pwsh',
    server: 's',
    credentials: { source: 'env', userVar: 'MY_USER', passwordVar: 'MY_PW' },
    env: { FVPB_LAB_URL: 'http://127.0.0.1:1', [HOST_ENV.credentialPassword]: 'sneaky' },
  });
  const env = childEnvironment('veeam', config, { user: 'u', password: 'p' }, ['OTHER_PW'], {
    PATH: '/bin',
    MY_USER: 'u',
    MY_PW: 'p',
    OTHER_PW: 'fvp-secret',
    [HOST_ENV.remoteComputer]: 'inherited',
  });
  assert.deepEqual(env, {
    PATH: '/bin',
    FVPB_LAB_URL: 'http://127.0.0.1:1',
    [HOST_ENV.endpoint]: 'veeam',
    [HOST_ENV.credentialUser]: 'u',
    [HOST_ENV.credentialPassword]: 'p',
  });
});

test('the child inherits only the allow-listed variables; TEMPORAL_* never, not even through env', () => {
  const config = EndpointConfig.parse({
    executable: 'pwsh',
    server: 's',
    env: { FVPB_LAB_URL: 'http://127.0.0.1:1', TEMPORAL_API_KEY: 'configured-by-mistake' },
  });
  const env = childEnvironment('fvp', config, null, [], {
    Path: 'C:\\Windows',
    SystemRoot: 'C:\\Windows',
    PSModulePath: 'C:\\modules',
    LC_ALL: 'C',
    TEMPORAL_API_KEY: 'key',
    TEMPORAL_ADDRESS: 'temporal:7233',
    AWS_SECRET_ACCESS_KEY: 'aws',
    NODE_OPTIONS: '--inspect',
  });
  assert.deepEqual(env, {
    Path: 'C:\\Windows',
    SystemRoot: 'C:\\Windows',
    PSModulePath: 'C:\\modules',
    LC_ALL: 'C',
    FVPB_LAB_URL: 'http://127.0.0.1:1',
    [HOST_ENV.endpoint]: 'fvp',
  });
});
