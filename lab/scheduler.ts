/**
 * Veeam's scheduler for one job, as the lab plays it (issue 14): when the schedule fires it runs
 * the job's pre-job command, starts the session only if the script succeeded (exit code 0), retries
 * a session that did not succeed as a new "<job> (Retry N)" session after the retry wait, and runs
 * the post-job command after the last one. Sessions are created through the lab's API
 * (`POST /veeam/jobs/<job>/scheduled-session`): nobody calls Start-BackupJob.
 *
 * What Veeam documents is modelled as documented (field survey 2.1, vendor evidence V13): the
 * post-job script runs once, after all retries. What it does not document is a knob, so that tests
 * can take either side: whether the pre-job script runs again before each retry
 * (`preJobBeforeEachRetry`, default false), and the script timeout (`scriptTimeoutMs`, after which
 * the script is killed and counts as failed).
 */
import { spawn } from 'node:child_process';
import type { LabClient } from './client';
import type { JobOutcome } from './scenario';

export interface ScriptCommand {
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

export interface ScriptRun {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  startedAt: number;
  endedAt: number;
}

export interface ScheduledSession {
  id: string;
  /** Veeam's session name: the job's, or "<job> (Retry N)". */
  name: string;
  result: JobOutcome | 'None';
  createdAt: number;
  endedAt: number;
}

export interface ScheduledJobOptions {
  lab: LabClient;
  job: string;
  preJob?: ScriptCommand | null;
  /** null: the post-job script never runs (a hook that never comes). */
  postJob?: ScriptCommand | null;
  /** Veeam's "Retry failed items processing" count (its default is 3). */
  retries?: number;
  /** Wait before each retry (Veeam's default is 10 minutes). */
  retryWaitMs?: number;
  /** Each attempt's result, in order (default: the job's outcome). */
  outcomes?: JobOutcome[];
  /** Unconfirmed for VM jobs: does the pre-job script run before each retry? */
  preJobBeforeEachRetry?: boolean;
  /** Unconfirmed for VM jobs: how long a script may run before Veeam kills it (here: 10 minutes). */
  scriptTimeoutMs?: number;
  /** false: the job was disabled (or stopped) after its pre-job script: no session. */
  startSession?: boolean;
  pollMs?: number;
  /** Test points: after the pre-job script succeeded (before the session), and once a session exists. */
  afterPreJob?: () => Promise<void>;
  onSession?: (session: { id: string; name: string }, retry: number) => Promise<void>;
}

export interface ScheduledJobReport {
  preJob: ScriptRun[];
  sessions: ScheduledSession[];
  postJob: ScriptRun | null;
  /** Why no (further) session was started, when one was not. */
  stopped: string | null;
}

export async function runScheduledJob(options: ScheduledJobOptions): Promise<ScheduledJobReport> {
  const { lab, job } = options;
  const retries = options.retries ?? 0;
  const pollMs = options.pollMs ?? 100;
  const timeoutMs = options.scriptTimeoutMs ?? 10 * 60_000;
  const report: ScheduledJobReport = { preJob: [], sessions: [], postJob: null, stopped: null };

  const preJob = async (): Promise<boolean> => {
    if (!options.preJob) return true;
    const run = await runScript(options.preJob, timeoutMs);
    report.preJob.push(run);
    return run.exitCode === 0;
  };

  if (!(await preJob())) {
    report.stopped = 'the pre-job script failed: the job was not started';
  } else {
    await options.afterPreJob?.();
    for (let retry = 0; retry <= retries; retry++) {
      if (options.startSession === false) {
        report.stopped = 'the job was disabled: no session';
        break;
      }
      if (retry > 0) {
        await delay(options.retryWaitMs ?? 1_000);
        if (options.preJobBeforeEachRetry && !(await preJob())) {
          report.stopped = `the pre-job script failed before retry ${retry}`;
          break;
        }
      }
      const outcome = options.outcomes?.[retry];
      const started = await lab.startScheduledSession(job, outcome ? { retry, outcome } : { retry });
      await options.onSession?.(started, retry);
      const ended = await untilStopped(lab, started.id, pollMs);
      report.sessions.push({ ...started, result: ended.result, endedAt: ended.endsAt });
      if (ended.result === 'Success') break;
    }
  }
  if (options.postJob) report.postJob = await runScript(options.postJob, timeoutMs);
  return report;
}

async function untilStopped(lab: LabClient, id: string, pollMs: number) {
  for (;;) {
    const session = (await lab.state()).veeam.sessions.find((s) => s.id === id);
    if (session === undefined) throw new Error(`session ${id} disappeared from the lab`);
    if (session.state === 'Stopped') return session;
    await delay(pollMs);
  }
}

/** Runs a script as Veeam does: no shell, its exit code is the verdict; killed after the timeout. */
export function runScript(script: ScriptCommand, timeoutMs: number): Promise<ScriptRun> {
  const startedAt = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(script.command, script.args, {
      cwd: script.cwd,
      env: script.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (exitCode, signal) => {
      clearTimeout(timer);
      resolve({ exitCode, signal, timedOut, stdout, stderr, startedAt, endedAt: Date.now() });
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
