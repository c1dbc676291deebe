/**
 * What a design can reach at 200 VMs on this machine (issue 12 section 3, flush phase at most the
 * slowest destage + 2 s): the floors of the flush path's two halves, each measured alone, each with
 * a baseline of one VM in the same run.
 *
 *   workflows  the least a workflow per VM costs, with nothing else in it: the real dev server and
 *              an in-process worker run `floorRun`, which signal-with-starts N `floorGuard`s in one
 *              activity (as the product's signalVmGuards does) and waits for each one's grant
 *              signal (bench/floor/workflows.ts). "bare": the guard only answers; "one activity":
 *              it runs one no-op activity first, the least a guard that writes needs (its switch
 *              must be a regular activity). No vendor calls, patches, search attributes or memo.
 *              Then --concurrent such runs at once, each asking one guard with one activity, and
 *              each asking none (section 3's 100 concurrent runs, with none of a run's own work:
 *              no Veeam session, no follower, no report).
 *   vendor     the product's own FVP activities on the lab through the real PowerShell pool (the
 *              fake host), no Temporal: "per VM" runs switchAndWaitForFlush and then waitForFlush
 *              for every VM at once, as 200 guards do; "one batch" switches every VM with
 *              setWriteThrough in one place and polls them all with one waitForFlush, as a design
 *              with one activity per batch of VMs would.
 *
 * Figures are the time beyond one VM alone (median of --runs), so the flush phase of a design is
 * at least the slowest destage + the workflows floor of its shape + the vendor floor of its calls.
 *
 *   npm run bench:design-floor -- [--vms 200] [--concurrent 100] [--runs 3] [--part all|workflows|vendor]
 */
import { parseArgs } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { z } from 'zod';
import { createFvpActivities } from '../activities/fvp';
import { createPowerShellClients } from '../activities/powershell';
import { createSwitchAndFlush } from '../activities/switch-and-flush';
import { isFlushed, type FlushState } from '../domain/policy';
import { fakeEndpointConfig } from '../lab/fake-powershell/endpoint';
import { startLab } from '../lab/launch';
import { scenario } from '../test/helpers/scenarios';
import { startDevServer } from '../test/helpers/temporal';
import { createFloorActivities } from './floor/activities';
import { floorRun } from './floor/workflows';
import { runBench, type BenchLab } from './harness';
import { median, mixedDestage, sec } from './figures';

const Args = z.object({
  vms: z.coerce.number().int().min(2).max(1000),
  concurrent: z.coerce.number().int().min(2).max(1000),
  runs: z.coerce.number().int().min(1).max(20),
  part: z.enum(['all', 'workflows', 'vendor']),
});
const { values } = parseArgs({
  options: {
    vms: { type: 'string', default: '200' },
    concurrent: { type: 'string', default: '100' },
    runs: { type: 'string', default: '3' },
    part: { type: 'string', default: 'all' },
  },
});
const args = Args.parse(values);

const GOAL_MS = 2000;
const verdict = (beyondMs: number) => (beyondMs <= GOAL_MS ? 'within' : 'over');

/** Times `body` `args.runs` times and returns the median in ms. */
async function medianOf(body: () => Promise<void>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < args.runs; i++) {
    const started = performance.now();
    await body();
    times.push(performance.now() - started);
  }
  return median(times);
}

async function workflowFloors(): Promise<string[]> {
  const env = await startDevServer();
  const taskQueue = `bench-floor-${process.pid}`;
  try {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: require.resolve('./floor/workflows'),
      activities: createFloorActivities(env.client, taskQueue),
    });
    let sequence = 0;
    const run = (count: number, withActivity: boolean) => () =>
      env.client.workflow.execute(floorRun, {
        taskQueue,
        workflowId: `floor-${process.pid}-${++sequence}`,
        args: [count, withActivity],
      });
    return await worker.runUntil(async () => {
      const lines: string[] = [];
      for (const [label, withActivity] of [
        ['bare', false],
        ['one activity', true],
      ] as const) {
        const one = await medianOf(run(1, withActivity));
        const many = await medianOf(run(args.vms, withActivity));
        process.stderr.write(`workflows ${label}: ${sec(one)} alone, ${sec(many)} for ${args.vms}\n`);
        lines.push(
          `RESULT workflows floor (${label}): ${args.vms} guards answer in ${sec(many)}, one alone in ${sec(one)}: ` +
            `+${sec(many - one)} beyond one (${verdict(many - one)} the +2.00 s budget; ratio ${(many / one).toFixed(2)}x)`,
        );
      }
      // Section 3's second figure: many runs at once, each asking one guard that runs one activity,
      // and (a run with no guard of its own at all) each asking none.
      for (const guards of [1, 0]) {
        const one = await medianOf(run(guards, true));
        const each: number[] = [];
        await Promise.all(
          Array.from({ length: args.concurrent }, async () => {
            const started = performance.now();
            await run(guards, true)();
            each.push(performance.now() - started);
          }),
        );
        const label = guards === 1 ? 'one guard with one activity each' : "no guard, the run's one activity only";
        process.stderr.write(`workflows concurrent, ${label}: ${sec(one)} alone, median ${sec(median(each))}\n`);
        lines.push(
          `RESULT workflows floor (${args.concurrent} runs at once, ${label}): median run ${sec(median(each))}, ` +
            `one alone ${sec(one)}: +${sec(median(each) - one)} beyond one (${verdict(median(each) - one)} the 2.00 s ` +
            `overhead budget; ratio ${(median(each) / one).toFixed(2)}x)`,
        );
      }
      return lines;
    });
  } finally {
    await env.teardown();
  }
}

const POLL = { pollIntervalMs: 250, returnAfterMs: 5000 };

async function vendorFloors(): Promise<string[]> {
  const lab = await startLab();
  try {
    const input = scenario({ vmCount: args.vms, destageMs: mixedDestage });
    await lab.client.loadScenario(input);
    const destage = new Map((input.fvp?.vms ?? []).map((vm) => [vm.name, vm.destageMs ?? 0]));
    const vms = [...destage.keys()];
    const slowest = vms.reduce((a, b) => ((destage.get(b) ?? 0) > (destage.get(a) ?? 0) ? b : a));
    const slowestMs = destage.get(slowest) ?? 0;

    const perVm = (names: string[]) =>
      withFvp(lab, async (fvp) => {
        await Promise.all(names.map((vm) => oneGuard(fvp, vm)));
      });
    const batch = (names: string[]) =>
      withFvp(lab, (fvp) =>
        inActivity(async () => {
          await Promise.all(names.map((vm) => fvp.setWriteThrough({ vm })));
          await untilFlushed(fvp, names);
        }),
      );
    const lines: string[] = [];
    for (const [label, path] of [
      ['per VM', perVm],
      ['one batch', batch],
    ] as const) {
      const one = await medianOf(() => path([slowest]));
      const many = await medianOf(() => path(vms));
      process.stderr.write(`vendor ${label}: ${sec(one)} alone, ${sec(many)} for ${args.vms}\n`);
      lines.push(
        `RESULT vendor floor (${label}): ${args.vms} VMs switched and flushed in ${sec(many)} (slowest destage ` +
          `${sec(slowestMs)}), the slowest alone in ${sec(one)}: +${sec(many - one)} beyond one ` +
          `(${verdict(many - one)} the +2.00 s budget; ratio ${(many / one).toFixed(2)}x)`,
      );
    }
    return lines;
  } finally {
    await lab.stop();
  }
}

type Fvp = ReturnType<typeof createFvpActivities> & ReturnType<typeof createSwitchAndFlush>;

/**
 * The product's FVP activities on a fresh copy of the scenario (every VM in write-back again)
 * through a new PowerShell pool of the worker's default size; the pool is closed afterwards.
 */
async function withFvp<T>(lab: BenchLab, body: (fvp: Fvp) => Promise<T>): Promise<T> {
  await lab.client.reset();
  const powershell = createPowerShellClients({
    fvp: fakeEndpointConfig('fvp', lab.url, { poolSize: 2 }),
    veeam: fakeEndpointConfig('veeam', lab.url, { poolSize: 2 }),
  });
  try {
    const fvp = createFvpActivities({ fvp: powershell.fvp });
    // A first call starts the pool's processes, which a running worker has long done.
    await inActivity(() => fvp.readCachePolicy({ vm: 'vm-01' }));
    return await body({ ...fvp, ...createSwitchAndFlush(fvp) });
  } finally {
    await powershell.close();
  }
}

/** What one guard's activities do up to its grant: the switch and first flush read, then flush reads. */
async function oneGuard(fvp: Fvp, vm: string): Promise<void> {
  const first = await inActivity(() => fvp.switchAndWaitForFlush({ vm, ...POLL }));
  if (!isFlushed(first.flush)) await inActivity(() => untilFlushed(fvp, [vm]));
}

/** Runs `fn` as an activity attempt of its own (heartbeats go nowhere), as each worker activity runs. */
function inActivity<T>(fn: () => Promise<T>): Promise<T> {
  return new MockActivityEnvironment().run(fn) as Promise<T>;
}

async function untilFlushed(fvp: Fvp, vms: string[]): Promise<void> {
  for (let round = 0; round < 100; round++) {
    const states: FlushState[] = await fvp.waitForFlush({ vms, ...POLL });
    if (states.every(isFlushed)) return;
  }
  throw new Error(`not flushed after 100 rounds: ${vms.length} VMs`);
}

async function main(): Promise<void> {
  const lines: string[] = [];
  if (args.part !== 'vendor') lines.push(...(await workflowFloors()));
  if (args.part !== 'workflows') lines.push(...(await vendorFloors()));
  console.log(`\ndesign floors at ${args.vms} VMs (medians of ${args.runs} runs; budget: +2.00 s beyond one VM)`);
  for (const line of lines) console.log(line);
}

runBench(main);
