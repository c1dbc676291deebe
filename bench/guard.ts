/**
 * The latency the per-VM guard adds to a protected backup, against the same run with the run-local
 * guard (no coordination with other runs), in the same process, on the same lab, alternating.
 *
 * Both are protectedBackup on the real Temporal dev server with a real worker process; the baseline
 * is selected by the benchmark-only memo `fvpb.guard: 'run-local'` (see workflows/protected-backup.ts).
 *
 * Prints per path the median run time (client-side, start to result), the median protect phase
 * (switch → flush verified) and release phase (restore → end), then the difference and the ratio
 * of the medians. Goal: the guard adds at most 300 ms (median).
 *
 * `--eager on` starts the dev server with eager activity dispatch (`system.enableActivityEagerExecution`):
 * an activity scheduled by a workflow task goes straight back to the worker that completed the
 * task, without a trip through matching. Off by default, as on a server whose operator did not
 * enable it; on a loaded 2-core machine it showed no measurable gain.
 *
 *   npx tsx bench/guard.ts [--runs 15] [--vms 3] [--eager on|off]
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { scenario, JOB } from '../test/helpers/scenarios';
import { GUARD_MEMO_KEY } from '../workflows/protected-backup';
import { runBackup, runBench, withBenchStack, type BenchStack } from './harness';
import { median } from './figures';

const Args = z.object({
  runs: z.coerce.number().int().min(1).max(200),
  vms: z.coerce.number().int().min(1).max(50),
  eager: z.enum(['on', 'off']),
});
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    vms: { type: 'string', default: '3' },
    eager: { type: 'string', default: 'off' },
  },
});
const args = Args.parse(values);

/** The dev server's dynamic config for eager activity dispatch. */
const EAGER_ACTIVITIES_ARGS = ['--dynamic-config-value', 'system.enableActivityEagerExecution=true'];

const ms = (x: number) => `${Math.round(x)} ms`;

type Path = 'guard' | 'local';
interface Sample {
  totalMs: number;
  protectMs: number;
  releaseMs: number;
}

async function main(): Promise<void> {
  await withBenchStack(
    {
      name: 'guard',
      workerEnv: { FVPB_FVP_POOL_SIZE: '4', LOG_LEVEL: 'info' },
      devServerArgs: args.eager === 'on' ? EAGER_ACTIVITIES_ARGS : [],
    },
    compare,
  );
}

/** The two paths, alternating on the same lab, and the figures. */
async function compare(stack: BenchStack): Promise<void> {
  const { lab } = stack;
  const input = scenario({ vmCount: args.vms, destageMs: () => 200, taskMs: 200 });
  let sequence = 0;

  async function run(path: Path): Promise<Sample> {
    await lab.client.loadScenario(input);
    const started = Date.now();
    const report = await runBackup(
      stack,
      `bench-guard-${path}-${process.pid}-${++sequence}`,
      {
        job: JOB,
        flush: { deadline: '1 minute', pollInterval: '100ms', concurrency: 8 },
        veeam: { pollInterval: '100ms' },
        timeouts: { heartbeat: '10 seconds', step: '1 minute', retryInitialInterval: '200ms' },
      },
      path === 'local' ? { [GUARD_MEMO_KEY]: 'run-local' } : undefined,
    );
    const totalMs = Date.now() - started;
    if (report.phase !== 'completed') throw new Error(`${path} run ended ${report.phase}: ${report.error}`);
    const t = (phase: string) => Date.parse(report.timings[phase] ?? '');
    return {
      totalMs,
      protectMs: t('backing-up') - t('switching-to-write-through'),
      releaseMs: t('completed') - t('restoring'),
    };
  }

  // Warm both paths up (PowerShell processes, workflow caches) before measuring.
  for (let i = 0; i < 2; i++) {
    await run('guard');
    await run('local');
  }
  const samples: Record<Path, Sample[]> = { guard: [], local: [] };
  for (let i = 0; i < args.runs; i++) {
    // Alternate the order so that neither path always runs on a warmer system.
    const order: Path[] = i % 2 === 0 ? ['guard', 'local'] : ['local', 'guard'];
    for (const path of order) samples[path].push(await run(path));
  }
  const m = (path: Path, key: keyof Sample) => median(samples[path].map((x) => x[key]));
  const line = (key: keyof Sample, label: string) =>
    `${label}: per-VM guard ${ms(m('guard', key))}, run-local ${ms(m('local', key))}, ` +
    `difference ${m('guard', key) - m('local', key) >= 0 ? '+' : ''}${ms(m('guard', key) - m('local', key))}`;

  console.log(
    `\nper-VM guard vs run-local guard: ${args.runs} runs each, ${args.vms} VM(s), eager activities ${args.eager}, medians`,
  );
  console.log(`  ${line('protectMs', 'protect (switch → flush verified)')}`);
  console.log(`  ${line('releaseMs', 'release (restore → run end)')}`);
  const diff = m('guard', 'totalMs') - m('local', 'totalMs');
  console.log(
    `RESULT latency the guard adds to a run (median): ${diff >= 0 ? '+' : ''}${ms(diff)} (goal ≤ +300 ms); ` +
      `run ${ms(m('guard', 'totalMs'))} with the guard vs ${ms(m('local', 'totalMs'))} without; ` +
      `ratio ${(m('guard', 'totalMs') / m('local', 'totalMs')).toFixed(2)}x`,
  );
}

runBench(main);
