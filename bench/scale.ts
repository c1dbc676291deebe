/**
 * Scale on one worker (issue 12 section 3): the real Temporal dev server, one real worker process
 * (its default slots and pools unless FVPB_* says otherwise), the lab. Every figure is printed with
 * a baseline measured in the same run and the ratio.
 *
 *   job         a 200-VM job (destage 0.3–3 s): flush phase = slowest destage + at most 2 s;
 *               baseline: the slowest VM alone in a one-VM job.
 *   concurrent  100 single-VM runs of 100 different jobs started at once: all complete, consistent
 *               and restored; orchestration overhead per run (run time beyond the lab's own flush
 *               and job time) median at most 2 s; baseline: the same kind of run alone.
 *   rss         throughout both: the worker's VmRSS (/proc/<pid>/status) at most 400 MB;
 *               baseline: the worker idle after its start.
 *
 * The worker is the compiled one, started as `npm run worker:prod` starts it (the benchmark builds
 * it first); `--worker tsx` measures the development worker instead (tsx adds ~50 MB of RSS).
 *
 *   npm run bench:scale -- [--scenario all|job|concurrent] [--vms 200] [--concurrent 100] [--runs 3]
 *                          [--worker compiled|tsx]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { ScenarioInput, ScenarioJob } from '../lab/scenario';
import { scenario } from '../test/helpers/scenarios';
import { runBackup, runBench, withBenchStack, type BenchStack } from './harness';
import { scaleRequest } from './scale-request';
import { median, mixedDestage, sec } from './figures';

const Args = z.object({
  scenario: z.enum(['all', 'job', 'concurrent']),
  vms: z.coerce.number().int().min(2).max(500),
  concurrent: z.coerce.number().int().min(2).max(500),
  runs: z.coerce.number().int().min(1).max(20),
  worker: z.enum(['compiled', 'tsx']),
});
const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'all' },
    vms: { type: 'string', default: '200' },
    concurrent: { type: 'string', default: '100' },
    runs: { type: 'string', default: '3' },
    worker: { type: 'string', default: 'compiled' },
  },
});
const args = Args.parse(values);

const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
const ratio = (a: number, b: number) => (b <= 0 ? 'n/a' : `${(a / b).toFixed(2)}x`);

const BIG = 'Big-Job';
const soloJob = (i: number) => `Solo-${String(i + 1).padStart(3, '0')}`;

/** The worker's resident set, sampled from /proc while the benchmark runs. */
class RssSampler {
  readonly samples: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly pid: number) {}
  read(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
    if (!Number.isFinite(kb)) throw new Error(`no VmRSS in /proc/${this.pid}/status`);
    return kb;
  }
  start(everyMs = 200): void {
    this.timer = setInterval(() => {
      try {
        this.samples.push(this.read());
      } catch {
        // the worker exited: the run fails on its own
      }
    }, everyMs);
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * One scenario for the whole benchmark (loading one drops the lab's connections): `vms` VMs with
 * mixed destage times; the big job holds them all (64 task slots, short tasks), and each of the
 * first `concurrent` VMs, and the slowest, is also alone in a job of its own.
 */
interface BenchScenario {
  input: ScenarioInput;
  destage: Map<string, number>;
  slowest: string;
  /** Each VM's requested policy before any run: what a restore must give back. */
  before: Map<string, unknown>;
}

function benchScenario(): BenchScenario {
  const count = Math.max(args.vms, args.concurrent);
  const base = scenario({ vmCount: count, destageMs: mixedDestage, taskMs: 100 });
  const vms = (base.fvp?.vms ?? []).map((vm, i) => ({ ...vm, name: `vm-${String(i + 1).padStart(3, '0')}` }));
  const template = base.veeam?.jobs?.[0] as ScenarioJob;
  const destage = new Map(vms.map((vm) => [vm.name, vm.destageMs ?? 0]));
  const bigVms = vms.slice(0, args.vms).map((vm) => vm.name);
  const slowest = bigVms.reduce((a, b) => ((destage.get(b) ?? 0) > (destage.get(a) ?? 0) ? b : a));
  const solo = (name: string, vm: string): ScenarioJob => ({
    ...template,
    id: undefined,
    name,
    vms: [vm],
    taskMs: 1000,
    startDelayMs: 200,
  });
  const jobs: ScenarioJob[] = [
    { ...template, id: undefined, name: BIG, vms: bigVms, taskMs: 100, taskSlots: 64 },
    ...vms.slice(0, args.concurrent).map((vm, i) => solo(soloJob(i), vm.name)),
    solo('Solo-slowest', slowest),
  ];
  const before = new Map<string, unknown>(vms.map((vm) => [vm.name, vm.requested]));
  return { input: { ...base, fvp: { ...base.fvp, vms }, veeam: { ...base.veeam, jobs } }, destage, slowest, before };
}

interface RunFacts {
  job: string;
  totalMs: number;
  flushPhaseMs: number;
  /** The lab's own time: the Veeam session's life plus the slowest destage of the run's VMs. */
  labMs: number;
  consistent: boolean;
  restored: boolean;
}

let sequence = 0;
async function runJob(stack: BenchStack, job: string, vms: string[], bench: BenchScenario) {
  const { lab } = stack;
  const { destage, before } = bench;
  const started = Date.now();
  const report = await runBackup(stack, `bench-scale-${job}-${process.pid}-${++sequence}`, scaleRequest(job));
  const totalMs = Date.now() - started;
  if (report.phase !== 'completed') throw new Error(`${job}: run ended ${report.phase}: ${report.error}`);
  const t = (phase: string) => Date.parse(report.timings[phase] ?? '');
  const state = await lab.client.state();
  const session = state.veeam.sessions.find((s) => s.id === report.backup.sessionId);
  if (!session) throw new Error(`${job}: no session ${report.backup.sessionId} in the lab`);
  const verdicts = (await lab.client.verdicts({ job })).filter((v) => v.sessionId === session.id);
  const policies = new Map(state.fvp.vms.map((vm) => [vm.name, vm.requested]));
  return {
    job,
    totalMs,
    flushPhaseMs: t('backing-up') - t('switching-to-write-through'),
    labMs: session.endsAt - session.createdAt + Math.max(...vms.map((vm) => destage.get(vm) ?? 0)),
    consistent: verdicts.length === vms.length && verdicts.every((v) => v.consistent),
    restored: vms.every((vm) => JSON.stringify(policies.get(vm)) === JSON.stringify(before.get(vm))),
  } satisfies RunFacts;
}

async function jobScenario(stack: BenchStack, bench: BenchScenario): Promise<string[]> {
  const { destage, slowest } = bench;
  const bigVms = Array.from({ length: args.vms }, (_, i) => `vm-${String(i + 1).padStart(3, '0')}`);
  const slowestMs = destage.get(slowest) ?? 0;
  const alone: RunFacts[] = [];
  const big: RunFacts[] = [];
  for (let run = 0; run < args.runs; run++) {
    alone.push(await runJob(stack, 'Solo-slowest', [slowest], bench));
    big.push(await runJob(stack, BIG, bigVms, bench));
    process.stderr.write(`job: round ${run + 1}/${args.runs} done\n`);
  }
  const beyond = (xs: RunFacts[]) => median(xs.map((r) => r.flushPhaseMs - slowestMs));
  const ok = big.every((r) => r.consistent && r.restored);
  return [
    `RESULT flush phase of a ${args.vms}-VM job (median of ${args.runs}): ${sec(median(big.map((r) => r.flushPhaseMs)))} = ` +
      `slowest destage ${sec(slowestMs)} + ${sec(beyond(big))} (goal ≤ +2.00 s); baseline, the slowest VM alone: ` +
      `${sec(median(alone.map((r) => r.flushPhaseMs)))} = destage + ${sec(beyond(alone))}; ` +
      `ratio ${ratio(median(big.map((r) => r.flushPhaseMs)), median(alone.map((r) => r.flushPhaseMs)))}; ` +
      `run ${sec(median(big.map((r) => r.totalMs)))}; consistent and restored: ${ok ? 'all' : 'NOT ALL'}`,
  ];
}

async function concurrentScenario(stack: BenchStack, bench: BenchScenario): Promise<string[]> {
  const vmOf = (i: number) => `vm-${String(i + 1).padStart(3, '0')}`;
  const alone: RunFacts[] = [];
  for (let run = 0; run < args.runs; run++) alone.push(await runJob(stack, soloJob(run), [vmOf(run)], bench));
  const started = Date.now();
  const settled = await Promise.allSettled(
    Array.from({ length: args.concurrent }, (_, i) => runJob(stack, soloJob(i), [vmOf(i)], bench)),
  );
  const wallMs = Date.now() - started;
  const done = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []));
  const overhead = (xs: RunFacts[]) => median(xs.map((r) => r.totalMs - r.labMs));
  const good = done.filter((r) => r.consistent && r.restored).length;
  return [
    `RESULT ${args.concurrent} concurrent single-VM runs of different jobs: ${done.length} completed, ${good} consistent ` +
      `and restored (goal: all ${args.concurrent})${failed.length ? `; failed: ${failed.slice(0, 3).join(' | ')}` : ''}; ` +
      `all done in ${sec(wallMs)}`,
    `RESULT orchestration overhead per run beyond the lab's flush and job time (median): concurrent ` +
      `${sec(overhead(done))} (goal ≤ 2.00 s), max ${sec(Math.max(...done.map((r) => r.totalMs - r.labMs)))}; ` +
      `baseline, one run alone (median of ${args.runs}): ${sec(overhead(alone))}; ratio ${ratio(overhead(done), overhead(alone))}`,
  ];
}

/**
 * FVPB_* variables, NODE_OPTIONS and MALLOC_ARENA_MAX of the benchmark's own environment reach the
 * worker: to try other slots, pools, cache, heap and (glibc) allocator settings.
 */
const overrides: Record<string, string> = {
  // The guards poll as the runs ask (scaleRequest), not at the test helper's 100 ms.
  FVPB_GUARD_FLUSH_POLL_INTERVAL: '250ms',
  FVPB_GUARD_JOB_POLL_INTERVAL: '250ms',
  ...Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] =>
        (e[0].startsWith('FVPB_') || e[0] === 'NODE_OPTIONS' || e[0] === 'MALLOC_ARENA_MAX') && e[1] !== undefined,
    ),
  ),
};

async function main(): Promise<void> {
  await withBenchStack({ name: 'scale', workerEnv: overrides, worker: args.worker }, measure);
}

/** Both scenarios on one worker, its RSS sampled throughout, and the figures. */
async function measure(stack: BenchStack): Promise<void> {
  const { lab, worker } = stack;
  const rss = new RssSampler(worker.process.pid as number);
  try {
    const bench = benchScenario();
    await lab.client.loadScenario(bench.input);
    // The policies as the lab holds them (its defaults filled in): what every restore must give back.
    const loaded = await lab.client.state();
    for (const vm of loaded.fvp.vms) bench.before.set(vm.name, vm.requested);
    await new Promise((r) => setTimeout(r, 2000));
    const idleKb = rss.read();
    rss.start();
    const lines: string[] = [];
    if (args.scenario !== 'concurrent') lines.push(...(await jobScenario(stack, bench)));
    if (args.scenario !== 'job') lines.push(...(await concurrentScenario(stack, bench)));
    rss.stop();
    const peak = Math.max(...rss.samples);
    console.log(
      `\nscale on one ${args.worker} worker: scenario ${args.scenario}, ${args.vms}-VM job, ${args.concurrent} concurrent runs`,
    );
    for (const line of lines) console.log(line);
    console.log(
      `RESULT worker RSS (${rss.samples.length} samples of /proc/${worker.process.pid}/status): peak ${mb(peak)} ` +
        `(goal ≤ 400 MB), median ${mb(median(rss.samples))}; baseline, idle after start: ${mb(idleKb)}; ` +
        `peak/idle ${ratio(peak, idleKb)}`,
    );
  } finally {
    rss.stop();
  }
}

runBench(main);
