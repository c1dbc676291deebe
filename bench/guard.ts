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
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startLab } from '../lab/launch';
import { scenario, JOB } from '../test/helpers/scenarios';
import { startDevServer } from '../test/helpers/temporal';
import { startWorkerProcess } from '../test/helpers/worker-process';
import { buildBundle } from '../worker/bundle';
import { protectedBackup } from '../workflows';
import { GUARD_MEMO_KEY } from '../workflows/protected-backup';
import type { RunReport } from '../workflows/status';

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

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const ms = (x: number) => `${Math.round(x)} ms`;

type Path = 'guard' | 'local';
interface Sample {
  totalMs: number;
  protectMs: number;
  releaseMs: number;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fvpb-bench-guard-'));
  const [env, lab, bundle] = await Promise.all([
    startDevServer({ extraArgs: args.eager === 'on' ? EAGER_ACTIVITIES_ARGS : [] }),
    startLab(),
    buildBundle(join(dir, 'bundle.js')),
  ]);
  const taskQueue = `bench-guard-${process.pid}`;
  const worker = await startWorkerProcess({
    temporalAddress: env.address,
    taskQueue,
    labUrl: lab.url,
    workflowBundle: bundle,
    env: { FVPB_FVP_POOL_SIZE: '4', LOG_LEVEL: 'info' },
  });
  const input = scenario({ vmCount: args.vms, destageMs: () => 200, taskMs: 200 });
  let sequence = 0;

  async function run(path: Path): Promise<Sample> {
    await lab.client.loadScenario(input);
    const started = Date.now();
    const report: RunReport = await env.client.workflow.execute(protectedBackup, {
      taskQueue,
      workflowId: `bench-guard-${path}-${process.pid}-${++sequence}`,
      args: [
        {
          job: JOB,
          flush: { deadline: '1 minute', pollInterval: '100ms', concurrency: 8 },
          veeam: { pollInterval: '100ms' },
          timeouts: { heartbeat: '10 seconds', step: '1 minute', retryInitialInterval: '200ms' },
        },
      ],
      memo: path === 'local' ? { [GUARD_MEMO_KEY]: 'run-local' } : undefined,
    });
    const totalMs = Date.now() - started;
    if (report.phase !== 'completed') throw new Error(`${path} run ended ${report.phase}: ${report.error}`);
    const t = (phase: string) => Date.parse(report.timings[phase] ?? '');
    return {
      totalMs,
      protectMs: t('backing-up') - t('switching-to-write-through'),
      releaseMs: t('completed') - t('restoring'),
    };
  }

  try {
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
  } finally {
    await worker.kill('SIGKILL');
    await Promise.allSettled([env.teardown(), lab.stop()]);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
