/**
 * fake-powershell: a SIMULATOR that stands in for powershell.exe / pwsh so that the real
 * node-powershell code path runs in tests, the demo and the benchmark. It is not PowerShell.
 *
 * Started as `<exe> -NoLogo [-NoProfile] [-NonInteractive] [-ExecutionPolicy X] -NoExit -Command -`,
 * it reads stdin line by line, strictly in order, and acts like PowerShell running typed statements:
 * - `[Console]::Out.WriteLine("D")` / `[Console]::Error.WriteLine("D")` print D on stdout / stderr;
 * - our init line imports the module (the decoded path must exist), waits the simulated start-up
 *   time once (FVPB_FAKE_STARTUP_MS), then runs Invoke-Op 'Connect-Endpoint';
 * - `Invoke-Op '<Name>' '<base64 JSON>'` is POSTed to ${FVPB_LAB_URL}/ps/invoke, and the lab's
 *   answer is acted on: print (after a delay), die with an exit code, hang, or write to stderr;
 * - anything else gets PowerShell's "is not recognized" error on stderr.
 * Credentials (CREDENTIAL_ENV) are read at start, removed from the environment like the real
 * module does, and sent to the lab with every call (it checks them on Connect-Endpoint).
 */
import { existsSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { CREDENTIAL_ENV, FAKE_HOST_ENV, InvokeRequest, InvokeResponse } from '../protocol';
import { EndpointName } from '../../domain/endpoint';
import { classify, decodeBase64Utf8, notRecognized } from './lines';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function fail(message: string, code = 64): never {
  process.stderr.write(`fake-powershell: ${message}\n`);
  process.exit(code);
}

function parseCommandLine(argv: string[]): { logo: boolean } {
  let logo = true;
  let command = false;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = (argv[i] as string).toLowerCase();
    if (arg === '-nologo') logo = false;
    else if (arg === '-noexit' || arg === '-noprofile' || arg === '-noninteractive') continue;
    else if (arg === '-executionpolicy' && i + 1 < argv.length) i += 1;
    else if (arg === '-command' && argv[i + 1] === '-' && i + 2 === argv.length) {
      command = true;
      i += 1;
    } else fail(`unsupported argument ${JSON.stringify(argv[i])}: this simulator only runs \`-Command -\``);
  }
  if (!command) fail('this simulator only reads commands from stdin (-Command -)');
  return { logo };
}

const { logo } = parseCommandLine(process.argv.slice(2));
const labUrl = process.env[FAKE_HOST_ENV.labUrl];
if (!labUrl) fail(`${FAKE_HOST_ENV.labUrl} is not set: the simulator forwards every call to the lab`);
const endpointParse = EndpointName.safeParse(process.env[FAKE_HOST_ENV.endpoint]);
if (!endpointParse.success) fail(`${FAKE_HOST_ENV.endpoint} must be fvp or veeam`);
const endpoint = endpointParse.data;
const startupMs = Number(process.env[FAKE_HOST_ENV.startupMs] ?? '0');
if (!Number.isFinite(startupMs) || startupMs < 0) fail(`${FAKE_HOST_ENV.startupMs} must be a number of milliseconds`);

const user = process.env[CREDENTIAL_ENV.user];
const credential = user ? { user, password: process.env[CREDENTIAL_ENV.password] ?? '' } : null;
delete process.env[CREDENTIAL_ENV.user];
delete process.env[CREDENTIAL_ENV.password];

let moduleLoaded = false;
let startupDone = false;

if (logo)
  process.stdout.write('Fake PowerShell: a simulator for the FVP backup lab. This is not Windows PowerShell.\n');

function writeOut(text: string): void {
  process.stdout.write(`${text}\n`);
}
function writeErr(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** Never answers: the process stays alive until it is killed. */
function hangForever(): Promise<never> {
  setInterval(() => undefined, 1 << 30);
  return new Promise<never>(() => undefined);
}

async function invoke(op: string, argsBase64: string): Promise<void> {
  const json = decodeBase64Utf8(argsBase64);
  let args: unknown;
  try {
    if (json === null) throw new Error('not base64 of UTF-8');
    args = JSON.parse(json);
  } catch {
    // What the module's Invoke-Op prints when ConvertFrom-Json fails.
    const error = {
      type: 'ArgumentException',
      message: 'Invoke-Op: the arguments are not base64 JSON',
      category: 'permanent',
    };
    writeOut(JSON.stringify({ ok: false, op, error }));
    return;
  }
  const request: InvokeRequest = { endpoint, pid: process.pid, op, args, credential };
  let response: InvokeResponse;
  try {
    const res = await fetch(`${labUrl}/ps/invoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(InvokeRequest.parse(request)),
    });
    const body = await res.text();
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${body.slice(0, 300)}`);
    response = InvokeResponse.parse(JSON.parse(body));
  } catch (err) {
    writeErr(
      `fake-powershell: the lab at ${labUrl} did not answer ${op}: ${err instanceof Error ? err.message : String(err)}`,
    );
    return;
  }
  switch (response.kind) {
    case 'print':
      if (response.delayMs > 0) await sleep(response.delayMs);
      writeOut(response.stdout);
      return;
    case 'stderr':
      writeErr(response.stderr);
      return;
    case 'die':
      return process.exit(response.exitCode);
    case 'hang':
      return hangForever();
  }
}

async function run(raw: string): Promise<void> {
  const line = classify(raw);
  switch (line.kind) {
    case 'blank':
      return;
    case 'stdout':
      writeOut(line.text);
      return;
    case 'stderr':
      writeErr(line.text);
      return;
    case 'init': {
      if (!existsSync(line.modulePath) || !statSync(line.modulePath).isFile()) {
        writeErr(
          `Import-Module : The specified module '${line.modulePath}' was not loaded because no valid module file was found in any module directory.`,
        );
        return;
      }
      moduleLoaded = true;
      if (!startupDone) {
        startupDone = true;
        if (startupMs > 0) await sleep(startupMs);
      }
      await invoke(line.op, line.argsBase64);
      return;
    }
    case 'invoke':
      if (!moduleLoaded) {
        writeErr(notRecognized('Invoke-Op'));
        return;
      }
      await invoke(line.op, line.argsBase64);
      return;
    case 'unknown':
      writeErr(notRecognized(line.text));
      return;
  }
}

// Lines run one after the other: an awaited POST must not let the next delimiter line overtake it.
const queue: string[] = [];
let draining = false;
let inputEnded = false;

async function drain(): Promise<void> {
  if (draining) return;
  draining = true;
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) await run(next);
  draining = false;
  if (inputEnded) process.exit(0);
}

const input = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
input.on('line', (line) => {
  queue.push(line);
  void drain();
});
input.on('close', () => {
  inputEnded = true;
  void drain();
});
