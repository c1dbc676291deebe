/**
 * Starts the lab as its own process (as tests, the demo and benchmarks need: it keeps running
 * while worker processes are killed) and hands back a typed client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { LabClient } from './client';

/** The repository root (this file lives in <root>/lab). */
export const REPO_ROOT = resolve(__dirname, '..');

export interface StartLabOptions {
  /** State file to load and keep (default: none, the state lives in memory). */
  stateFile?: string;
  /** Port on 127.0.0.1 (default 0: a free one). */
  port?: number;
  /** Scenario file (JSON or YAML) to load at start, replacing any saved state. */
  scenarioFile?: string;
  /** How long to wait for the lab's URL line (default 30 s). */
  startTimeoutMs?: number;
}

export interface RunningLab {
  url: string;
  client: LabClient;
  process: ChildProcess;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process exited. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL at once (a crash); resolves once the process exited. */
  kill(): Promise<void>;
}

const STDERR_KEEP = 16 * 1024;

export function startLab(options: StartLabOptions = {}): Promise<RunningLab> {
  const args = ['--import', 'tsx', resolve(REPO_ROOT, 'lab/main.ts'), '--port', String(options.port ?? 0)];
  if (options.stateFile !== undefined) args.push('--state-file', options.stateFile);
  if (options.scenarioFile !== undefined) args.push('--scenario', options.scenarioFile);
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });

  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEEP);
  });
  const exited = new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) done();
    else child.once('exit', () => done());
  });
  // A lab must never outlive the process that started it.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  void exited.then(() => process.removeListener('exit', killOnExit));

  const waitFor = async (signal: NodeJS.Signals, graceMs: number): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };

  return new Promise<RunningLab>((resolveStart, rejectStart) => {
    let stdout = '';
    let settled = false;
    const fail = (reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      rejectStart(new Error(`${reason}${stderr.trim() === '' ? '' : `; stderr:\n${stderr.trim()}`}`));
    };
    const timer = setTimeout(
      () => fail(`the lab did not print its URL within ${options.startTimeoutMs ?? 30_000} ms`),
      options.startTimeoutMs ?? 30_000,
    );
    child.once('error', (error) => fail(`cannot start the lab: ${error.message}`));
    child.once('exit', (code, signal) => {
      // Let the stderr stream drain before reporting.
      setImmediate(() => fail(`the lab exited before it was ready (code ${code}, signal ${signal})`));
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (settled) return;
      stdout += chunk;
      const newline = stdout.indexOf('\n');
      if (newline < 0) return;
      const line = stdout.slice(0, newline);
      let url: unknown;
      try {
        url = (JSON.parse(line) as { url?: unknown }).url;
      } catch {
        url = undefined;
      }
      if (typeof url !== 'string') {
        fail(`the lab printed an unexpected first line: ${line.slice(0, 200)}`);
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolveStart({
        url,
        client: new LabClient(url),
        process: child,
        stop: () => waitFor('SIGTERM', 5_000),
        kill: () => waitFor('SIGKILL', 0),
      });
    });
  });
}
