/**
 * Management-server calls and time per flush-poll round of a 200-VM job (issue 12 section 2):
 * today's per-VM reads (each VM's guard reads Get-VmFlushState: a Get-PrnxVM listing of every VM,
 * then its policy and statistics) against the coalesced reads the worker makes now
 * (activities/flush-reader.ts: one listing per round shared by every read, then per VM by uuid),
 * alternating, on the same lab, in the same run.
 *
 * The lab's FVP management server serves one call at a time and charges each call `--call-ms`, a
 * listing `--listing-per-vm-ms` more per VM listed (lab/model/fvp-server.ts): the time per round is
 * the management server's load, not this machine's. Every VM's read of a round starts at once, as
 * 200 guards polling in step would; the VMs stay destaging, so every round reads all of them.
 *
 * Prints per mode the medians over `--rounds` rounds of: management calls, listings, server busy
 * time and wall time per round, and the ratios. Goal: one listing per round.
 *
 *   npm run bench:fvp-poll -- [--vms 200] [--rounds 5] [--call-ms 1] [--listing-per-vm-ms 0.1]
 */
import { parseArgs } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { z } from 'zod';
import { createFlushReader } from '../activities/flush-reader';
import type { RawFvpVmMatches } from '../activities/powershell/operations';
import { interpretFlushState, interpretFvpServer } from '../activities/vendor/interpret';
import type { FlushState } from '../domain/policy';
import { fvpServerLoad, resetFvpServerLoad } from '../lab/model/fvp-server';
import { FakeClock, fakeLab, fvpInvoker } from '../lab/testing';
import { median } from './figures';

const Args = z.object({
  vms: z.coerce.number().int().min(1).max(2000),
  rounds: z.coerce.number().int().min(1).max(100),
  callMs: z.coerce.number().min(0).max(1000),
  listingPerVmMs: z.coerce.number().min(0).max(100),
});
const { values } = parseArgs({
  options: {
    vms: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '5' },
    'call-ms': { type: 'string', default: '1' },
    'listing-per-vm-ms': { type: 'string', default: '0.1' },
  },
});
const args = Args.parse({
  vms: values.vms,
  rounds: values.rounds,
  callMs: values['call-ms'],
  listingPerVmMs: values['listing-per-vm-ms'],
});
/** The guards' poll interval: a round's listing is shared for at most this long. */
const POLL_MS = 2_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The lab on the wall clock: the management server's charges take real time. */
class WallClock extends FakeClock {
  override now = (): number => Date.now();
  override sleep = (ms: number): Promise<void> => sleep(ms);
}

type Mode = 'per-vm' | 'coalesced';
interface Round {
  calls: number;
  listings: number;
  busyMs: number;
  wallMs: number;
}

async function main(): Promise<void> {
  const names = Array.from({ length: args.vms }, (_, i) => `vm-${String(i).padStart(4, '0')}`);
  const f = await fakeLab(
    {
      fvp: {
        managementCost: { callMs: args.callMs, listingPerVmMs: args.listingPerVmMs },
        // Switched to write-through a moment ago and destaging for an hour: never flushed while measured.
        vms: names.map((name) => ({
          name,
          requested: { mode: 'WriteThrough', peers: 0, externalPeers: null },
          writeIntervalMs: 10,
          destageMs: 3_600_000,
        })),
      },
    },
    new WallClock(),
  );
  const fvp = fvpInvoker(f);
  const facts = interpretFvpServer(((await fvp.invoke('Get-FvpServer', {})) as { servers: never[] }).servers);
  const reader = createFlushReader(fvp);
  const startTime = facts.statsStartTime;

  /** One poll round: every VM's read at once, each in its own activity context, as its guard's. */
  const reads: Record<Mode, (vm: string) => Promise<FlushState>> = {
    'per-vm': async (vm) => {
      const raw = await fvp.invoke('Get-VmFlushState', startTime === undefined ? { vm } : { vm, startTime });
      return interpretFlushState(vm, raw as RawFvpVmMatches, facts);
    },
    coalesced: async (vm) => {
      const [result] = await reader.read([vm], facts, POLL_MS);
      if (result?.status !== 'fulfilled') throw result?.reason;
      return result.value;
    },
  };
  const rounds: Record<Mode, Round[]> = { 'per-vm': [], coalesced: [] };
  for (let i = 0; i < args.rounds; i++) {
    for (const mode of ['per-vm', 'coalesced'] as const) {
      // A new round: the previous round's listing is older than the poll interval.
      await sleep(POLL_MS);
      resetFvpServerLoad(f.lab.state);
      const started = performance.now();
      const states = await Promise.all(
        names.map((vm) => new MockActivityEnvironment().run(() => reads[mode](vm)) as Promise<FlushState>),
      );
      const wallMs = performance.now() - started;
      if (states.length !== names.length || states.some((s) => s.requested.mode !== 'WriteThrough')) {
        throw new Error(`${mode}: a read went wrong`);
      }
      rounds[mode].push({ ...fvpServerLoad(f.lab.state), wallMs });
      console.log(
        `round ${i + 1} ${mode.padEnd(9)} ${rounds[mode].at(-1)!.calls} calls, ${rounds[mode].at(-1)!.listings} listings, ${Math.round(wallMs)} ms`,
      );
    }
  }
  const m = (mode: Mode, key: keyof Round) => median(rounds[mode].map((r) => r[key]));
  console.log(
    `\nflush-poll rounds of a ${args.vms}-VM job, medians of ${args.rounds} rounds each; management server: ` +
      `${args.callMs} ms a call, a listing ${args.listingPerVmMs} ms more per VM, one call at a time (lab)`,
  );
  for (const mode of ['per-vm', 'coalesced'] as const) {
    console.log(
      `  ${mode.padEnd(9)}  ${m(mode, 'calls')} calls  ${m(mode, 'listings')} listings  server busy ${Math.round(m(mode, 'busyMs'))} ms  round ${Math.round(m(mode, 'wallMs'))} ms`,
    );
  }
  console.log(
    `RESULT per poll round: listings ${m('per-vm', 'listings')} -> ${m('coalesced', 'listings')} (goal 1); ` +
      `management calls ${(m('per-vm', 'calls') / m('coalesced', 'calls')).toFixed(2)}x fewer; ` +
      `server time ${(m('per-vm', 'busyMs') / m('coalesced', 'busyMs')).toFixed(2)}x less; ` +
      `round time ${(m('per-vm', 'wallMs') / m('coalesced', 'wallMs')).toFixed(2)}x shorter`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
