/**
 * Where the time goes in bench:scale's 200-VM job (profiling aid, not a benchmark with a goal):
 * the same dev server, lab, worker and scenario as bench/scale.ts, one run of the slowest VM alone
 * and one run of the big job, then
 *   - CPU seconds of every process this script started (worker, lab, fake PowerShell hosts,
 *     temporal server), from /proc/<pid>/stat, over the big run's flush phase, and the machine's;
 *   - the lab's invocations by operation during the flush phase;
 *   - a probe of the lab's own answer time (one Get-FvpVms through /ps/invoke every second);
 *   - from the histories of the run and of every guard: activities by type with schedule-to-start
 *     and start-to-close, workflow tasks' schedule-to-start and start-to-close, all within the
 *     flush phase;
 *   - the run's events around the flush phase, and per guard (ms after the flush phase began): when
 *     it started, when its first workflow task started and completed, when its first activity
 *     started and completed, and its first signal out (a progress report or the grant).
 *
 *   node --import tsx bench/scale-profile.ts [--vms 200]   (FVPB_* of this environment reach the worker)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ScenarioJob } from '../lab/scenario';
import { scenario } from '../test/helpers/scenarios';
import { runBackup, runBench, withBenchStack, type BenchStack } from './harness';
import { scaleRequest } from './scale-request';
import { mixedDestage } from './figures';

const { values } = parseArgs({ options: { vms: { type: 'string', default: '200' } } });
const VMS = Number(values.vms);
const HZ = 100;
const METRICS_PORT = 19000 + (process.pid % 1000);

/** The worker's Prometheus metrics (the SDK's), as name{labels} -> value. */
async function scrape(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    const text = await (await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || !line.trim()) continue;
      const i = line.lastIndexOf(' ');
      const key = line
        .slice(0, i)
        .replace(/,?(namespace|task_queue|service_name)="[^"]*"/g, '')
        .replace('{,', '{');
      out.set(key, (out.get(key) ?? 0) + Number(line.slice(i + 1)));
    }
  } catch (err) {
    console.log(`metrics: ${String(err)}`);
  }
  return out;
}
const INTERESTING =
  /sticky|cache|workflow_task_(replay|execution|schedule_to_start|execution_failed)|slots|workflow_endtoend|activity_execution_latency_(sum|count)|activity_schedule_to_start_latency_(sum|count)|request_latency_(sum|count)|poll/;

// ---- /proc CPU accounting of our process tree --------------------------------------------------
function kind(cmd: string): string {
  if (cmd.includes('temporal') && cmd.includes('server')) return 'temporal server';
  if (cmd.includes('fake-powershell')) return 'fake PowerShell hosts';
  if (cmd.includes('worker/main.ts')) return 'worker';
  if (cmd.includes('lab/main.ts')) return 'lab';
  if (cmd.includes('esbuild')) return 'esbuild';
  return 'other';
}
interface Proc {
  ppid: number;
  ticks: number;
  cmd: string;
  /** Summed over the process's threads from /proc/<pid>/task/<tid>/schedstat: ns waiting for a CPU. */
  waitNs: number;
}
/** Per thread name (comm) of one process: CPU ns and run-queue wait ns (schedstat). */
function threads(pid: number): Map<string, { cpuNs: number; waitNs: number; n: number }> {
  const out = new Map<string, { cpuNs: number; waitNs: number; n: number }>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim().replace(/\d+$/, '#');
        const [cpu, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
        const e = out.get(comm) ?? { cpuNs: 0, waitNs: 0, n: 0 };
        e.cpuNs += cpu ?? 0;
        e.waitNs += wait ?? 0;
        e.n += 1;
        out.set(comm, e);
      } catch {
        // gone
      }
    }
  } catch {
    // gone
  }
  return out;
}
function procs(): Map<number, Proc> {
  const out = new Map<number, Proc>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const ppid = Number(rest[1]);
      out.set(Number(d), { ppid, ticks: Number(rest[11]) + Number(rest[12]), cmd, waitNs: 0 });
    } catch {
      // gone
    }
  }
  return out;
}
function tree(): Map<number, Proc> {
  const all = procs();
  const mine = new Map<number, Proc>();
  const isMine = (pid: number): boolean => {
    for (let p = pid, i = 0; p > 1 && i < 20; i++) {
      if (p === process.pid) return true;
      p = all.get(p)?.ppid ?? 0;
    }
    return false;
  };
  for (const [pid, p] of all)
    if (pid !== process.pid && isMine(pid)) {
      let waitNs = 0;
      for (const t of threads(pid).values()) waitNs += t.waitNs;
      mine.set(pid, { ...p, waitNs });
    }
  return mine;
}
function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}
/** Samples every second so that a process that dies mid-window still counts up to its last sample. */
class CpuWindow {
  private first = new Map<number, number>();
  private firstWait = new Map<number, number>();
  private last = new Map<number, Proc>();
  private timer: NodeJS.Timeout | undefined;
  private m0 = machineTicks();
  start(): void {
    for (const [pid, p] of tree()) {
      this.first.set(pid, p.ticks);
      this.firstWait.set(pid, p.waitNs);
    }
    this.m0 = machineTicks();
    this.timer = setInterval(() => this.sample(), 1000);
  }
  private sample(): void {
    for (const [pid, p] of tree()) {
      if (!this.first.has(pid)) this.first.set(pid, 0);
      if (!this.firstWait.has(pid)) this.firstWait.set(pid, 0);
      this.last.set(pid, p);
    }
  }
  stop(): { byKind: Map<string, { cpuS: number; waitS: number; procs: number }>; machineBusyS: number; wallS: number } {
    this.sample();
    clearInterval(this.timer);
    const m1 = machineTicks();
    const byKind = new Map<string, { cpuS: number; waitS: number; procs: number }>();
    for (const [pid, p] of this.last) {
      const k = kind(p.cmd);
      const e = byKind.get(k) ?? { cpuS: 0, waitS: 0, procs: 0 };
      e.cpuS += (p.ticks - (this.first.get(pid) ?? 0)) / HZ;
      e.waitS += (p.waitNs - (this.firstWait.get(pid) ?? 0)) / 1e9;
      e.procs += 1;
      byKind.set(k, e);
    }
    // /proc/stat counts both cores: wall = total ticks / 2 cores
    return { byKind, machineBusyS: (m1.busy - this.m0.busy) / HZ, wallS: (m1.total - this.m0.total) / HZ / 2 };
  }
}

// ---- statistics --------------------------------------------------------------------------------
const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.floor(p * s.length))] as number) : NaN;
};
const fmt = (xs: number[]) =>
  xs.length
    ? `n=${xs.length} median ${q(xs, 0.5).toFixed(0)} ms, p90 ${q(xs, 0.9).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms, sum ${(xs.reduce((a, b) => a + b, 0) / 1000).toFixed(1)} s`
    : 'n=0';

/** A history event's kind: the name of its one set `...EventAttributes` field. */
const eventType = (e: object): string =>
  Object.keys(e).find((k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k]) ?? '?';

const ms = (t: unknown): number => {
  // Timestamp { seconds: Long, nanos }
  const ts = t as { seconds?: { toNumber(): number } | number; nanos?: number } | null | undefined;
  if (!ts) return NaN;
  const s = typeof ts.seconds === 'number' ? ts.seconds : (ts.seconds?.toNumber() ?? 0);
  return s * 1000 + (ts.nanos ?? 0) / 1e6;
};

async function main(): Promise<void> {
  const workerEnv = {
    FVPB_GUARD_FLUSH_POLL_INTERVAL: '250ms',
    FVPB_GUARD_JOB_POLL_INTERVAL: '250ms',
    FVPB_METRICS_ADDRESS: `127.0.0.1:${METRICS_PORT}`,
    ...Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('FVPB_'))),
  };
  await withBenchStack({ name: 'scale-profile', workerEnv }, profile);
}

/** The solo and the big run, and everything measured around the big one. */
async function profile(stack: BenchStack): Promise<void> {
  const { env, lab, worker } = stack;
  console.log(
    worker
      .logs()
      .split('\n')
      .find((l) => l.includes('worker started')),
  );
  const base = scenario({ vmCount: VMS, destageMs: mixedDestage, taskMs: 100 });
  const vms = (base.fvp?.vms ?? []).map((vm, i) => ({ ...vm, name: `vm-${String(i + 1).padStart(3, '0')}` }));
  const template = base.veeam?.jobs?.[0] as ScenarioJob;
  const slowest = vms.reduce((a, b) => ((b.destageMs ?? 0) > (a.destageMs ?? 0) ? b : a));
  const jobs: ScenarioJob[] = [
    { ...template, id: undefined, name: 'Big-Job', vms: vms.map((v) => v.name), taskMs: 100, taskSlots: 64 },
    { ...template, id: undefined, name: 'Solo-slowest', vms: [slowest.name], taskMs: 1000, startDelayMs: 200 },
  ];
  await lab.client.loadScenario({ ...base, fvp: { ...base.fvp, vms }, veeam: { ...base.veeam, jobs } });
  await new Promise((r) => setTimeout(r, 2000));

  const run = async (job: string) => {
    const id = `profile-${job}-${process.pid}`;
    const t0 = Date.now();
    const report = await runBackup(stack, id, scaleRequest(job));
    const t = (phase: string) => Date.parse(report.timings[phase] ?? '');
    return {
      id,
      t0,
      t1: Date.now(),
      flushStart: t('switching-to-write-through'),
      flushEnd: t('backing-up'),
      report,
    };
  };
  const solo = await run('Solo-slowest');
  console.log(
    `solo: flush phase ${solo.flushEnd - solo.flushStart} ms (destage ${slowest.destageMs} ms), run ${solo.t1 - solo.t0} ms`,
  );

  // the lab's answer time, probed once a second with a Get-FvpVms of a pretend host
  const probe: number[] = [];
  await lab.client.connect('fvp', { pid: 999_999 }).catch(() => undefined);
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const s = performance.now();
      try {
        await lab.client.call('fvp', 'Get-FvpVms', {} as never, { pid: 999_999 });
        probe.push(performance.now() - s);
      } catch {
        // not counted
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();

  const before = (await lab.client.state()).counts.invocationsByOp;
  const m0 = await scrape();
  const wpid = worker.process.pid as number;
  const th0 = threads(wpid);
  const cpu = new CpuWindow();
  cpu.start();
  const big = await run('Big-Job');
  const used = cpu.stop();
  const th1 = threads(wpid);
  probing = false;
  await prober;
  const after = (await lab.client.state()).counts.invocationsByOp;
  const m1 = await scrape();
  console.log('\nworker metrics (after the big run; delta over it):');
  for (const [k, v] of m1) {
    if (!INTERESTING.test(k) || /_bucket/.test(k)) continue;
    const d = v - (m0.get(k) ?? 0);
    console.log(`  ${k} = ${v} (delta ${Number(d.toFixed(3))})`);
  }

  console.log(
    `\nbig: flush phase ${big.flushEnd - big.flushStart} ms (slowest destage ${slowest.destageMs} ms), run ${big.t1 - big.t0} ms; phases ${JSON.stringify(big.report.timings)}`,
  );
  console.log(
    `\nCPU over the whole big run (${used.wallS.toFixed(1)} s wall, 2 cores = ${(2 * used.wallS).toFixed(1)} core-s):`,
  );
  for (const [k, v] of [...used.byKind].sort((a, b) => b[1].cpuS - a[1].cpuS))
    console.log(
      `  ${k.padEnd(24)} ${v.cpuS.toFixed(1)} core-s, ${v.waitS.toFixed(1)} s runnable but waiting for a CPU (${v.procs} processes)`,
    );
  console.log(`  machine busy (all processes, incl. others) ${used.machineBusyS.toFixed(1)} core-s`);
  console.log(`worker threads by name (CPU s | run-queue wait s over the big run):`);
  for (const [comm, t] of [...th1].sort((a, b) => b[1].cpuNs - a[1].cpuNs)) {
    const t0 = th0.get(comm) ?? { cpuNs: 0, waitNs: 0 };
    console.log(
      `  ${comm.padEnd(20)} x${t.n}  cpu ${((t.cpuNs - t0.cpuNs) / 1e9).toFixed(1)} s, waiting ${((t.waitNs - t0.waitNs) / 1e9).toFixed(1)} s`,
    );
  }
  console.log(`\nlab invocations during the big run:`);
  for (const [op, n] of Object.entries(after)) {
    const d = n - (before[op] ?? 0);
    if (d) console.log(`  ${op.padEnd(28)} ${d}`);
  }
  console.log(`\nlab answer time, Get-FvpVms probe every 1 s during the big run: ${fmt(probe)}`);

  // histories: the run and every guard that ran during it
  const ids: string[] = [big.id];
  for await (const w of env.client.workflow.list()) {
    if (w.workflowId !== big.id && w.startTime.getTime() <= big.t1 && (w.closeTime?.getTime() ?? Infinity) >= big.t0)
      if (!w.workflowId.startsWith('profile-')) ids.push(w.workflowId);
  }
  const acts = new Map<string, { s2s: number[]; s2c: number[]; inFlush: number }>();
  const wft = { s2s: [] as number[], s2c: [] as number[] };
  const wftRun = { s2s: [] as number[], s2c: [] as number[] };
  let events = 0;
  const eventTypes = new Map<string, number>();
  const buckets = new Map<number, { wft: number; act: number }>();
  const bucket = (t: number) => {
    const b = Math.floor((t - big.flushStart) / 2000) * 2;
    const e = buckets.get(b) ?? { wft: 0, act: 0 };
    buckets.set(b, e);
    return e;
  };
  let slowestGuard = { id: '', last: 0, lines: [] as string[] };
  const startedAtByWf: number[] = [];
  const perGuard: string[][] = [];
  const runLines: string[] = [];
  const inFlush = (t: number) => t >= big.flushStart && t <= big.flushEnd;
  for (const id of ids) {
    const h = await env.client.workflow.getHandle(id).fetchHistory();
    const evs = h.events ?? [];
    events += evs.length;
    const lines: string[] = [];
    let last = 0;
    for (const e of evs) {
      const t = ms(e.eventTime);
      const type = eventType(e);
      if (id !== big.id && inFlush(t)) {
        eventTypes.set(type, (eventTypes.get(type) ?? 0) + 1);
        last = Math.max(last, t);
      }
      if (id !== big.id && t <= big.flushEnd + 1000)
        lines.push(`    +${(t - big.flushStart).toFixed(0).padStart(6)} ms ${type.replace('EventAttributes', '')}`);
      if (type === 'workflowTaskCompletedEventAttributes' && id !== big.id) bucket(t).wft++;
      if (type === 'activityTaskCompletedEventAttributes' && id !== big.id) bucket(t).act++;
    }
    if (id !== big.id && last > slowestGuard.last) slowestGuard = { id, last, lines };
    if (id === big.id) {
      for (const e of evs) {
        const t = ms(e.eventTime);
        if (t < big.flushStart - 200 || t > big.flushEnd + 300) continue;
        const type = eventType(e);
        const extra =
          e.activityTaskScheduledEventAttributes?.activityType?.name ??
          e.workflowExecutionSignaledEventAttributes?.signalName ??
          '';
        runLines.push(
          `    +${(t - big.flushStart).toFixed(0).padStart(6)} ms ${type.replace('EventAttributes', '')} ${extra}`,
        );
      }
    }
    if (id !== big.id) {
      /** ms after the flush phase began of the guard's first event of this kind, '-' if none. */
      const at = (k: string) => {
        const e = evs.find((x) => (x as Record<string, unknown>)[k]);
        return e ? (ms(e.eventTime) - big.flushStart).toFixed(0) : '-';
      };
      perGuard.push([
        at('workflowExecutionStartedEventAttributes'),
        at('workflowTaskStartedEventAttributes'),
        at('workflowTaskCompletedEventAttributes'),
        at('activityTaskStartedEventAttributes'),
        at('activityTaskCompletedEventAttributes'),
        at('signalExternalWorkflowExecutionInitiatedEventAttributes'),
      ]);
    }
    const byId = new Map<number, { type: string; time: number; attrs: unknown }>();
    for (const e of evs) {
      const id2 = Number(e.eventId);
      const time = ms(e.eventTime);
      if (e.activityTaskScheduledEventAttributes) {
        byId.set(id2, { type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', time, attrs: null });
      } else if (e.activityTaskStartedEventAttributes) {
        const sch = byId.get(Number(e.activityTaskStartedEventAttributes.scheduledEventId));
        if (sch) byId.set(id2, { type: 'started', time, attrs: sch });
      } else if (
        e.activityTaskCompletedEventAttributes ||
        e.activityTaskFailedEventAttributes ||
        e.activityTaskTimedOutEventAttributes
      ) {
        const a =
          e.activityTaskCompletedEventAttributes ??
          e.activityTaskFailedEventAttributes ??
          e.activityTaskTimedOutEventAttributes;
        const sch = byId.get(Number(a!.scheduledEventId));
        const st = byId.get(Number(a!.startedEventId));
        if (sch && st && inFlush(sch.time)) {
          const name = sch.type + (e.activityTaskCompletedEventAttributes ? '' : ' (failed/timed out)');
          const entry = acts.get(name) ?? { s2s: [], s2c: [], inFlush: 0 };
          entry.s2s.push(st.time - sch.time);
          entry.s2c.push(time - st.time);
          acts.set(name, entry);
        }
      } else if (e.workflowTaskScheduledEventAttributes) {
        byId.set(id2, { type: 'wft', time, attrs: null });
      } else if (e.workflowTaskStartedEventAttributes) {
        const sch = byId.get(Number(e.workflowTaskStartedEventAttributes.scheduledEventId));
        if (sch) byId.set(id2, { type: 'wft-started', time, attrs: sch });
      } else if (e.workflowTaskCompletedEventAttributes) {
        const st = byId.get(Number(e.workflowTaskCompletedEventAttributes.startedEventId));
        const sch = st?.attrs as { time: number } | undefined;
        if (st && sch && inFlush(sch.time)) {
          const target = id === big.id ? wftRun : wft;
          target.s2s.push(st.time - sch.time);
          target.s2c.push(time - st.time);
        }
      } else if (e.workflowExecutionStartedEventAttributes && id !== big.id) {
        startedAtByWf.push(time - big.flushStart);
      }
    }
  }
  console.log(`\nhistories: ${ids.length} workflows (the run + ${ids.length - 1} guards), ${events} events`);
  console.log(`guards started (ms after the flush phase began): ${fmt(startedAtByWf)}`);
  console.log(`run events around the flush phase (ends +${big.flushEnd - big.flushStart} ms):\n${runLines.join('\n')}`);
  console.log('per guard: started, WFT1 started, WFT1 done, act1 started, act1 done, first signal out');
  for (const row of perGuard.sort((a, b) => Number(a[1]) - Number(b[1]))) console.log('  ' + row.join('\t'));
  console.log(
    `guard events during the flush phase by type: ${JSON.stringify(Object.fromEntries([...eventTypes].sort((a, b) => b[1] - a[1])))}`,
  );
  console.log(`guard workflow tasks | activities completed per 2 s since the flush phase began:`);
  console.log(
    '  ' +
      [...buckets]
        .sort((a, b) => a[0] - b[0])
        .map(([b, e]) => `${b}s:${e.wft}|${e.act}`)
        .join(' '),
  );
  console.log(`the guard whose flush-phase events end last (${slowestGuard.id}):\n${slowestGuard.lines.join('\n')}`);
  console.log(`activities scheduled during the flush phase (schedule-to-start | start-to-close):`);
  for (const [name, a] of [...acts].sort((x, y) => y[1].s2s.length - x[1].s2s.length)) {
    console.log(`  ${name}:\n    schedule-to-start ${fmt(a.s2s)}\n    start-to-close    ${fmt(a.s2c)}`);
  }
  console.log(`workflow tasks of the guards scheduled during the flush phase:`);
  console.log(`    schedule-to-start ${fmt(wft.s2s)}\n    start-to-close    ${fmt(wft.s2c)}`);
  console.log(`workflow tasks of the run scheduled during the flush phase:`);
  console.log(`    schedule-to-start ${fmt(wftRun.s2s)}\n    start-to-close    ${fmt(wftRun.s2c)}`);
}

runBench(main);
