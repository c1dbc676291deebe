/**
 * VM and job names that would break (or exploit) any PowerShell code built by pasting text travel
 * as data: through node-powershell, the fake host and the real lab, they arrive byte for byte, and
 * come back byte for byte in the results.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLab, type RunningLab } from '../../lab/launch';
import { fakeEndpointConfig } from '../../lab/fake-powershell/endpoint';
import { createPowerShellClients, type PowerShellClients } from '../../activities/powershell';
import { interpretJob } from '../../activities/vendor/interpret-veeam';

const fourKb = (() => {
  const unit = `'"$(\`;|&<#>\r\n\t‘’“”🚀é`;
  let name = '';
  while (name.length < 4096) name += unit;
  return name.slice(0, 4096);
})();

const HOSTILE_NAMES: string[] = [
  "x'; Remove-Item C:\\ -Recurse; '",
  "it's",
  "''",
  '"double" "quotes"',
  '‘curly single’ and ’reversed‘',
  '“curly double” „low“ «guillemets»',
  '$(Get-Process; exit 1)',
  '$env:FVPB_CRED_PASSWORD',
  '${env:PATH} and $null and $true',
  '@(1,2) @{a=1} @args',
  'back`tick`n`0`"escaped',
  'semi;colon; Stop-Computer',
  'pipe | Out-File C:\\pwned.txt',
  'amp & calc.exe && echo || echo',
  '<# block comment start',
  'line #comment',
  'first line\nsecond line',
  'carriage\rreturn',
  'crlf\r\nsplit',
  'tab\there\tand\vvertical\fform',
  'bell\u0007 esc\u001b[31mred\u001b[0m del\u007f c1\u0085\u009b',
  'unit sep\u001f record sep\u001e',
  'ünïcødé Ωμέγα Привет 日本語 한국어',
  'emoji 🚀💾 family 👩‍👩‍👧 flag 🇨🇭 skin 👍🏽',
  'RTL שלום עולם مرحبا \u202Eevil.exe\u202C',
  'zero\u200Bwidth\u200Djoiner\uFEFFbom',
  'line\u2028separator\u2029paragraph',
  '[Console]::Out.WriteLine("AAAAAAAAAAAAAAAA")',
  "Invoke-Op 'Get-Doctor' 'e30='",
  '   leading and trailing spaces   ',
  '-NoExit -Command -',
  '[brackets]*?wild*cards',
  '\\\\server\\share\\..\\..\\windows',
  '%PATH% !VAR! ^caret',
  '2024-01-01T00:00:00Z',
  '{"json":"looking"}',
  '\\u0041 literal backslash-u',
  '==base64+/==',
  fourKb,
];

let lab: RunningLab;
let clients: PowerShellClients;

before(async () => {
  lab = await startLab();
  const uniqueVms = HOSTILE_NAMES.map((name) => ({ name, writeIntervalMs: 0, destageMs: 0 }));
  await lab.client.loadScenario({
    fvp: { vms: uniqueVms },
    veeam: { jobs: HOSTILE_NAMES.slice(0, 10).map((name) => ({ name, vms: [name] })) },
  });
  clients = createPowerShellClients({
    fvp: fakeEndpointConfig('fvp', lab.url),
    veeam: fakeEndpointConfig('veeam', lab.url),
  });
});

after(async () => {
  await clients.close();
  await lab.stop();
});

test(`${HOSTILE_NAMES.length} hostile VM names reach the lab and come back byte for byte`, async () => {
  assert.ok(HOSTILE_NAMES.length >= 20);
  assert.equal(new Set(HOSTILE_NAMES).size, HOSTILE_NAMES.length);
  assert.equal(fourKb.length, 4096);
  const since = (await lab.client.invocations()).nextSeq;

  for (const name of HOSTILE_NAMES) {
    const policy = await clients.fvp.invoke('Get-VmCachePolicy', { vm: name });
    assert.equal(policy.matches[0]?.vm.Name, name, `result for ${JSON.stringify(name.slice(0, 60))}`);
    // The module addresses the VM by the name it was given (the worker refuses wildcard names before: policy-write.ts).
    assert.deepEqual(await clients.fvp.invoke('Set-VmWriteThrough', { vm: name, waitTimeSeconds: 0 }), { sent: true });
  }

  const vms = (await lab.client.state()).fvp.vms;
  for (const name of HOSTILE_NAMES) {
    assert.equal(
      vms.find((v) => v.name === name)?.requested.mode,
      'WriteThrough',
      'the lab found the VM by its exact name',
    );
  }
  const log = (await lab.client.invocations({ sinceSeq: since, endpoint: 'fvp' })).invocations;
  const received = log.filter((r) => r.op === 'Get-VmCachePolicy').map((r) => r.args);
  assert.deepEqual(
    received,
    HOSTILE_NAMES.map((vm) => ({ vm })),
  );
  for (const [i, record] of received.entries()) {
    const vm = (record as { vm: string }).vm;
    assert.ok(Buffer.from(vm, 'utf8').equals(Buffer.from(HOSTILE_NAMES[i] as string, 'utf8')), `bytes of name ${i}`);
  }
  assert.deepEqual(
    log.filter((r) => r.op === 'Set-VmWriteThrough').map((r) => r.args),
    HOSTILE_NAMES.map((vm) => ({ vm, waitTimeSeconds: 0 })),
  );
  assert.equal(new Set(log.map((r) => r.pid)).size, 1, 'all on one process: nothing desynchronised it');
  assert.ok(log.every((r) => r.response === 'ok'));
});

test('hostile job names reach the Veeam host intact', async () => {
  const since = (await lab.client.invocations()).nextSeq;
  for (const name of HOSTILE_NAMES.slice(0, 10)) {
    const job = interpretJob(await clients.veeam.invoke('Get-BackupJob', { job: name }));
    assert.equal(job.name, name);
    assert.deepEqual(job.vms, [name]);
  }
  const log = (await lab.client.invocations({ sinceSeq: since, endpoint: 'veeam' })).invocations;
  assert.deepEqual(
    log.filter((r) => r.op === 'Get-BackupJob').map((r) => ({ job: (r.args as { job: unknown }).job })),
    HOSTILE_NAMES.slice(0, 10).map((job) => ({ job })),
  );
});
