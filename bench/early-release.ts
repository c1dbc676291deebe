/**
 * VM-minutes in write-through per backup: early release (`veeam.release: 'per-vm'`, each VM let go
 * as soon as its Veeam task is done) against release at the session's end (`'session-end'`, the
 * behaviour before), on the same lab in the same run.
 *
 * The job: 20 busy write-back VMs, 4 Veeam task slots, task times in proportion to each VM's used
 * disk (a 2 TB file server, two 500 GB databases and 17 application VMs of 40 to 94 GB, in that job
 * order: the biggest first, the least favourable of the orders for early release), `--ms-per-gb`
 * of task time per GB. What a VM pays is read from the lab's policy history: from the switch to
 * write-through until write-back is back (its restore). Every backup is judged by the lab, which
 * also fails a VM given write-back while Veeam still read it.
 *
 * Both modes pay the same fixed cost per VM (resolve, switch, flush, start, restore: about 3 to 4 s
 * in the lab on a loaded machine), so the ratio grows with the session's length; the default 30 ms
 * per GB (a 60 s session) keeps that cost small beside the tasks, as minutes-long real tasks do.
 *
 * Prints medians over `--runs` backups per mode (alternating), the ratio, the share of consistent
 * verdicts on each side, and the runs' own report of each VM's window (from the run's write-through
 * request to its release).
 *
 *   npm run bench:early-release -- [--runs 3] [--ms-per-gb 30]
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { ScenarioInput, VmTask } from '../lab/scenario';
import { scenario, JOB } from '../test/helpers/scenarios';
import { runBackup, runBench, withBenchStack, type BenchStack } from './harness';
import { median } from './figures';

const Args = z.object({
  runs: z.coerce.number().int().min(1).max(50),
  msPerGb: z.coerce.number().min(1).max(100),
});
const { values } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, 'ms-per-gb': { type: 'string', default: '30' } },
});
const args = Args.parse({ runs: values.runs, msPerGb: values['ms-per-gb'] });

type Mode = 'per-vm' | 'session-end';

const VM_COUNT = 20;
const TASK_SLOTS = 4;
/** Used disk per VM (GB), in job order: the file server, two databases, then application VMs. */
const USED_GB = [2000, 500, 500, ...Array.from({ length: VM_COUNT - 3 }, (_, i) => 40 + ((i * 37) % 61))];

const minutes = (ms: number) => ms / 60_000;
const fmt = (x: number) => x.toFixed(2);

function benchScenario(): ScenarioInput {
  const input = scenario({ vmCount: VM_COUNT, destageMs: (i) => 300 + ((i * 211) % 700) });
  const job = input.veeam?.jobs?.[0];
  if (!job) throw new Error('the scenario has no job');
  const vmTasks: Record<string, VmTask> = {};
  (job.vms ?? []).forEach((vm, i) => (vmTasks[vm] = { taskMs: Math.round((USED_GB[i] as number) * args.msPerGb) }));
  input.veeam = { ...input.veeam, jobs: [{ ...job, taskSlots: TASK_SLOTS, vmTasks }] };
  return input;
}

interface Backup {
  /** Sum over the job's VMs of the time in write-through (lab: switch to restore), ms. */
  writeThroughMs: number;
  /** Sum of the run's own report of each window (switch to release), ms. */
  reportedMs: number;
  sessionMs: number;
  consistent: number;
  judged: number;
}

async function backup(stack: BenchStack, mode: Mode, id: string): Promise<Backup> {
  const { lab } = stack;
  const since = Date.now();
  const report = await runBackup(stack, id, {
    job: JOB,
    flush: { deadline: '2 minutes', pollInterval: '250ms', concurrency: 8 },
    veeam: { pollInterval: '250ms', release: mode },
    timeouts: { heartbeat: '10 seconds', step: '1 minute', retryInitialInterval: '200ms' },
  });
  if (report.phase !== 'completed') throw new Error(`run ${id} ended ${report.phase}: ${report.error ?? ''}`);
  const state = await lab.client.state();
  const session = state.veeam.sessions.find((s) => s.id === report.backup.sessionId);
  if (!session) throw new Error(`no session ${report.backup.sessionId ?? ''} in the lab`);
  const verdicts = await lab.client.verdicts({ sessionId: session.id });
  const windows = (await lab.client.timeline()).flatMap((vm) =>
    vm.writeThroughWindows.filter((w) => w.requestedAt >= since),
  );
  if (windows.length !== VM_COUNT || windows.some((w) => w.endedAt === null)) {
    throw new Error(`run ${id}: expected ${VM_COUNT} closed write-through windows, got ${windows.length}`);
  }
  return {
    writeThroughMs: windows.reduce((sum, w) => sum + ((w.endedAt as number) - w.requestedAt), 0),
    reportedMs: report.vms.reduce((sum, vm) => sum + (vm.writeThroughSeconds ?? 0) * 1000, 0),
    sessionMs: session.endsAt - session.createdAt,
    consistent: verdicts.filter((v) => v.consistent).length,
    judged: verdicts.length,
  };
}

async function main(): Promise<void> {
  await withBenchStack({ name: 'early', workerEnv: { FVPB_FVP_POOL_SIZE: '4' } }, async (stack) => {
    await stack.lab.client.loadScenario(benchScenario());
    const results: Record<Mode, Backup[]> = { 'per-vm': [], 'session-end': [] };
    // Warm up (process starts, bundle load, PowerShell sessions) before measuring.
    await backup(stack, 'per-vm', `bench-early-warmup-${Date.now()}`);
    for (let run = 0; run < args.runs; run++) {
      // Alternate which mode goes first, so that drift in the machine's load hits both alike.
      const order: Mode[] = run % 2 === 0 ? ['per-vm', 'session-end'] : ['session-end', 'per-vm'];
      for (const mode of order) {
        const result = await backup(stack, mode, `bench-early-${mode}-${run}-${Date.now()}`);
        results[mode].push(result);
        console.log(
          `run ${run + 1} ${mode}: ${fmt(minutes(result.writeThroughMs))} VM-min in write-through, session ${(result.sessionMs / 1000).toFixed(1)} s, ${result.consistent}/${result.judged} consistent`,
        );
      }
    }
    const vmMinutes = (mode: Mode) => median(results[mode].map((r) => minutes(r.writeThroughMs)));
    const reported = (mode: Mode) => median(results[mode].map((r) => minutes(r.reportedMs)));
    const share = (mode: Mode) => {
      const judged = results[mode].reduce((a, r) => a + r.judged, 0);
      return judged ? (100 * results[mode].reduce((a, r) => a + r.consistent, 0)) / judged : 0;
    };
    const early = vmMinutes('per-vm');
    const late = vmMinutes('session-end');
    console.log(
      `\nearly release vs release at session end: ${args.runs} backups each of a ${VM_COUNT}-VM job, ${TASK_SLOTS} task slots, task times ${args.msPerGb} ms per GB used (${USED_GB.map((gb) => Math.round(gb * args.msPerGb) / 1000).join(', ')} s), session median ${(median(results['per-vm'].map((r) => r.sessionMs)) / 1000).toFixed(1)} s`,
    );
    console.log(
      `RESULT VM-minutes in write-through per backup (lab, switch to restore; median): per-vm ${fmt(early)}, session-end ${fmt(late)}; ${(late / early).toFixed(2)}x fewer (goal ≥ 3x)`,
    );
    console.log(
      `RESULT the runs' own reports (write-through request to release; median): per-vm ${fmt(reported('per-vm'))}, session-end ${fmt(reported('session-end'))} VM-minutes; ${(reported('session-end') / reported('per-vm')).toFixed(2)}x`,
    );
    console.log(
      `RESULT consistent verdicts: per-vm ${share('per-vm').toFixed(1)}%, session-end ${share('session-end').toFixed(1)}% (goal 100% on both sides)`,
    );
  });
}

runBench(main);
