/**
 * PowerShell round trip: a pooled long-lived session versus a new process per call, through the
 * real node-powershell and the fake host (lab/bin/fake-powershell) against a lab it starts itself.
 * The fake host waits --startup-ms at init to stand in for module import + Connect-* (real hosts
 * take seconds), on top of its own process start.
 *
 *   npm run bench:powershell -- [--calls 20] [--startup-ms 400] [--op Get-VmCachePolicy]
 */
import { parseArgs } from 'node:util';
import { startLab } from '../lab/launch';
import { defaultScenario } from '../lab/scenario';
import { fakeEndpointConfig } from '../lab/fake-powershell/endpoint';
import { PowerShellPool } from '../activities/powershell';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '20' },
    'startup-ms': { type: 'string', default: '400' },
    op: { type: 'string', default: 'Get-VmCachePolicy' },
  },
});
const calls = Number(values.calls);
const startupMs = Number(values['startup-ms']);
const op = values.op === 'Get-VmFlushState' ? 'Get-VmFlushState' : 'Get-VmCachePolicy';
if (!Number.isInteger(calls) || calls < 1) throw new Error('--calls must be a positive integer');
if (!Number.isInteger(startupMs) || startupMs < 0) throw new Error('--startup-ms must be a non-negative integer');
if (values.op !== op) throw new Error('--op: Get-VmCachePolicy or Get-VmFlushState');

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function main(): Promise<void> {
  const lab = await startLab();
  try {
    await lab.client.loadScenario(defaultScenario());
    const config = fakeEndpointConfig('fvp', lab.url, { startupMs, poolSize: 1 });
    const vms = ['sql-01', 'app-01', 'web-01'];

    // Pooled: one process, started (and connected) by a warm-up call that is reported on its own.
    const pool = new PowerShellPool({ endpoint: 'fvp', config });
    let began = performance.now();
    await pool.invoke(op, { vm: 'sql-01' });
    const warmUp = performance.now() - began;
    const pooled: number[] = [];
    for (let i = 0; i < calls; i += 1) {
      began = performance.now();
      await pool.invoke(op, { vm: vms[i % vms.length] as string });
      pooled.push(performance.now() - began);
    }
    const processes = pool.stats().started;
    await pool.close();

    // New process per call: start, import + connect, call; closing is left out of the timing.
    const fresh: number[] = [];
    for (let i = 0; i < calls; i += 1) {
      const once = new PowerShellPool({ endpoint: 'fvp', config });
      began = performance.now();
      await once.invoke(op, { vm: vms[i % vms.length] as string });
      fresh.push(performance.now() - began);
      await once.close();
    }

    const pooledMedian = percentile(pooled, 50);
    const freshMedian = percentile(fresh, 50);
    console.log(`PowerShell round trip (${op}), ${calls} calls each, fake host start-up ${startupMs} ms`);
    console.log(
      `  pooled session       median ${fmt(pooledMedian)}  p95 ${fmt(percentile(pooled, 95))}  (${processes} process; first call incl. start ${fmt(warmUp)})`,
    );
    console.log(`  new process per call median ${fmt(freshMedian)}  p95 ${fmt(percentile(fresh, 95))}`);
    console.log(
      `RESULT powershell-pool: new-process/pooled = ${(freshMedian / pooledMedian).toFixed(1)}x (median ${fmt(freshMedian)} vs ${fmt(pooledMedian)}; p95 ratio ${(percentile(fresh, 95) / percentile(pooled, 95)).toFixed(1)}x)`,
    );
  } finally {
    await lab.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
