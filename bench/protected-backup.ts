/**
 * The protected backup against the seed procedure it replaces, on the same lab in the same run.
 *
 * Baseline (the seed script, replayed op by op through the same PowerShell boundary): per VM in
 * sequence `Set-PrnxAccelerationPolicy -WriteThrough -WaitTimeSeconds 60`, then `Start-VBRJob`
 * (synchronous: it blocks until the job ends), then per VM `-WriteBack -NumWBPeers 1
 * -WaitTimeSeconds 60`. No verification, no memory of the original policy.
 *
 * Ours: protectedBackup on the real Temporal dev server with a real worker process.
 *
 * Prints: the flush phase of a 20-VM job with mixed destage times (goal: at most the slowest VM's
 * destage + 1.5 s); the orchestration overhead per run beyond the lab's own flush and job time
 * (goal: median at most 1 s); each VM's write-through window; the share of consistent backups.
 *
 *   npm run bench:backup -- [--vms 20] [--runs 5]
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createPowerShellClients, type PowerShellClients } from '../activities/powershell';
import { fakeEndpointConfig } from '../lab/fake-powershell/endpoint';
import type { ScenarioInput } from '../lab/scenario';
import { scenario, JOB } from '../test/helpers/scenarios';
import { interpretSession, sessionAfterStart } from '../activities/vendor/interpret-veeam';
import { runBackup, runBench, withBenchStack, type BenchLab, type BenchStack } from './harness';
import { median, mixedDestage, sec } from './figures';

const Args = z.object({
  vms: z.coerce.number().int().min(2).max(100),
  runs: z.coerce.number().int().min(1).max(50),
});
const { values } = parseArgs({
  options: { vms: { type: 'string', default: '20' }, runs: { type: 'string', default: '5' } },
});
const args = Args.parse(values);

type Lab = BenchLab;

const max = (xs: number[]) => Math.max(...xs);
const ratio = (a: number, b: number) => (b === 0 ? 'n/a' : `${(a / b).toFixed(2)}x`);

interface RunFacts {
  totalMs: number;
  flushPhaseMs: number;
  jobMs: number;
  slowestDestageMs: number;
  windowsMs: number[];
  consistent: number;
  judged: number;
}

async function labFacts(lab: Lab, job: string, sinceMs: number, sessionId: string | null, destages: number[]) {
  const state = await lab.client.state();
  const session = state.veeam.sessions.find((x) => x.id === sessionId) ?? state.veeam.sessions.at(-1);
  const jobMs = session ? session.endsAt - session.createdAt : 0;
  const verdicts = (await lab.client.verdicts({ job })).filter((v) => v.sessionId === session?.id);
  const windowsMs = (await lab.client.timeline()).flatMap((vm) =>
    vm.writeThroughWindows
      .filter((w) => w.requestedAt >= sinceMs)
      .map((w) => (w.endedAt ?? Date.now()) - w.requestedAt),
  );
  return {
    jobMs,
    windowsMs,
    consistent: verdicts.filter((v) => v.consistent).length,
    judged: verdicts.length,
    slowestDestageMs: max(destages),
  };
}

/**
 * Loading a scenario drops the lab's connections, like a restarted server: let the baseline's
 * PowerShell sessions reconnect before its clock starts (the seed script's own connect is not timed).
 */
async function reconnect(ps: PowerShellClients, vm: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ps.fvp.invoke('Get-VmCachePolicy', { vm });
      await ps.veeam.invoke('Get-BackupJob', { job: JOB });
      return;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

/** One job of the bench scenario: its name, its VMs and their destage lags. */
interface BenchJob {
  name: string;
  vms: string[];
  destages: number[];
}

async function seedProcedure(ps: PowerShellClients, lab: Lab, job: BenchJob): Promise<RunFacts> {
  await reconnect(ps, job.vms[0] as string);
  const started = Date.now();
  for (const vm of job.vms) await ps.fvp.invoke('Set-VmWriteThrough', { vm, waitTimeSeconds: 60 });
  const flushPhaseMs = Date.now() - started;
  // The seed script starts the job and reads its new session as the worker does (activities/vendor/interpret-veeam.ts).
  const start = await ps.veeam.invoke('Start-BackupJob', { job: job.name, fullBackup: false, retryBackup: false });
  const { sessions } = await ps.veeam.invoke('Find-BackupSession', { job: job.name });
  let session = sessionAfterStart(sessions, start, job.name)!;
  while (session.state !== 'Stopped') {
    await new Promise((r) => setTimeout(r, 100));
    const { matches } = await ps.veeam.invoke('Get-BackupSession', { sessionId: session.id });
    session = interpretSession(matches[0]!, job.name);
  }
  for (const vm of job.vms) {
    await ps.fvp.invoke('Restore-VmCachePolicy', { vm, policy: { mode: 'WriteBack', peers: 1, externalPeers: null } });
  }
  const totalMs = Date.now() - started;
  return { totalMs, flushPhaseMs, ...(await labFacts(lab, job.name, started, session.id, job.destages)) };
}

async function ours(stack: BenchStack, job: BenchJob, id: string): Promise<RunFacts> {
  const { lab } = stack;
  const started = Date.now();
  const report = await runBackup(stack, id, {
    job: job.name,
    flush: { deadline: '2 minutes', pollInterval: '250ms', concurrency: 8 },
    veeam: { pollInterval: '100ms' },
    timeouts: { heartbeat: '10 seconds', step: '1 minute', retryInitialInterval: '200ms' },
  });
  const totalMs = Date.now() - started;
  const t = (phase: string) => Date.parse(report.timings[phase] ?? '');
  const flushPhaseMs = t('backing-up') - t('switching-to-write-through');
  return { totalMs, flushPhaseMs, ...(await labFacts(lab, job.name, started, report.backup.sessionId, job.destages)) };
}

/**
 * One scenario for the whole run, loaded once (loading drops the lab's connections, like a server
 * restart, which is not what is measured): a 20-VM job with mixed destage times and a 3-VM job.
 */
function benchScenario(vmCount: number): { input: ScenarioInput; big: BenchJob; small: BenchJob } {
  const input = scenario({ vmCount, destageMs: mixedDestage, taskMs: 100 });
  const vms = input.fvp?.vms ?? [];
  const bigJob = input.veeam?.jobs?.[0];
  if (!bigJob) throw new Error('the scenario has no job');
  const smallVms = vms.slice(0, 3);
  const small: BenchJob = {
    name: 'Small-SQL',
    vms: smallVms.map((v) => v.name),
    destages: smallVms.map((v) => v.destageMs ?? 0),
  };
  input.veeam = {
    ...input.veeam,
    jobs: [bigJob, { ...bigJob, id: undefined, name: small.name, vms: small.vms, taskMs: 300 }],
  };
  return {
    input,
    big: { name: JOB, vms: vms.map((v) => v.name), destages: vms.map((v) => v.destageMs ?? 0) },
    small,
  };
}

async function main(): Promise<void> {
  await withBenchStack({ name: 'backup', workerEnv: { FVPB_FVP_POOL_SIZE: '4' } }, async (stack) => {
    const { lab } = stack;
    const ps = createPowerShellClients({
      fvp: fakeEndpointConfig('fvp', lab.url, { poolSize: 1 }),
      veeam: fakeEndpointConfig('veeam', lab.url, { poolSize: 1 }),
    });
    try {
      await compare(stack, ps);
    } finally {
      await ps.close();
    }
  });
}

/** The seed procedure and ours, alternating on the same lab, and the figures. */
async function compare(stack: BenchStack, ps: PowerShellClients): Promise<void> {
  const { lab } = stack;
  const { input, big, small } = benchScenario(args.vms);
  await lab.client.loadScenario(input);
  const results = {
    ours: { big: [] as RunFacts[], small: [] as RunFacts[] },
    seed: { big: [] as RunFacts[], small: [] as RunFacts[] },
  };

  // Warm both paths up (process starts, bundle load) before measuring.
  await ours(stack, small, `bench-warmup-${Date.now()}`);
  await seedProcedure(ps, lab, small);

  for (let run = 0; run < args.runs; run++) {
    for (const [name, job] of [
      ['big', big],
      ['small', small],
    ] as const) {
      results.seed[name].push(await seedProcedure(ps, lab, job));
      results.ours[name].push(await ours(stack, job, `bench-${name}-${run}-${Date.now()}`));
    }
  }

  const flush = (xs: RunFacts[]) => median(xs.map((r) => r.flushPhaseMs));
  const beyondDestage = (xs: RunFacts[]) => median(xs.map((r) => r.flushPhaseMs - r.slowestDestageMs));
  const overhead = (xs: RunFacts[]) => median(xs.map((r) => r.totalMs - r.jobMs - r.slowestDestageMs));
  const windows = (xs: RunFacts[]) => xs.flatMap((r) => r.windowsMs);
  const share = (xs: RunFacts[]) => {
    const judged = xs.reduce((a, r) => a + r.judged, 0);
    return judged ? xs.reduce((a, r) => a + r.consistent, 0) / judged : 0;
  };
  const all = (k: 'ours' | 'seed') => [...results[k].big, ...results[k].small];
  const slowest = max(big.destages);

  console.log(
    `\nprotected backup vs seed procedure: ${args.runs} runs each of a ${args.vms}-VM job (destage 0.3–3 s) and a 3-VM job`,
  );
  console.log(
    `RESULT flush phase (${args.vms} VMs, slowest destage ${sec(slowest)}): ours ${sec(flush(results.ours.big))} = slowest destage + ${sec(beyondDestage(results.ours.big))} (goal ≤ +1.50 s); seed ${sec(flush(results.seed.big))} (unverified); ours/seed ${ratio(flush(results.ours.big), flush(results.seed.big))}`,
  );
  console.log(
    `RESULT orchestration overhead per run beyond the lab's flush and job time (3 VMs, median): ours ${sec(overhead(results.ours.small))} (goal ≤ 1.00 s); seed ${sec(overhead(results.seed.small))} (it does not wait for the flush, so its figure can go below zero); run time ours/seed ${ratio(median(results.ours.small.map((r) => r.totalMs)), median(results.seed.small.map((r) => r.totalMs)))}`,
  );
  console.log(
    `RESULT write-through window per VM (median / max): ours ${sec(median(windows(all('ours'))))} / ${sec(max(windows(all('ours'))))}; seed ${sec(median(windows(all('seed'))))} / ${sec(max(windows(all('seed'))))}; ours/seed (median) ${ratio(median(windows(all('ours'))), median(windows(all('seed'))))}`,
  );
  console.log(
    `RESULT consistent backups: ours ${(100 * share(all('ours'))).toFixed(1)}% (goal 100%); seed ${(100 * share(all('seed'))).toFixed(1)}%`,
  );
}

runBench(main);
