/**
 * The FVP management server's load (issue 12): it serves one call at a time, and a Get-PrnxVM
 * listing costs in proportion to the VMs it lists (scenario fvp.managementCost; free by default).
 * Every FVP call the simulated module makes is charged here, in order, and counted, so that a
 * benchmark can tell how many calls, how many listings and how much server time a poll round takes.
 */
import type { LabState } from './state';

export interface FvpServerLoad {
  /** Cmdlet calls the management server served (a listing counts once). */
  calls: number;
  /** Of which Get-PrnxVM listings. */
  listings: number;
  /** Time the server spent serving them (ms, as charged). */
  busyMs: number;
}

interface Server {
  load: FvpServerLoad;
  /** The end of the last charged call: the server serves one at a time. */
  queue: Promise<void>;
}

const servers = new WeakMap<LabState, Server>();

function serverOf(state: LabState): Server {
  let server = servers.get(state);
  if (server === undefined) {
    server = { load: { calls: 0, listings: 0, busyMs: 0 }, queue: Promise.resolve() };
    servers.set(state, server);
  }
  return server;
}

/** The load counted since the lab state was loaded (or since the last reset). */
export function fvpServerLoad(state: LabState): FvpServerLoad {
  return { ...serverOf(state).load };
}

export function resetFvpServerLoad(state: LabState): void {
  serverOf(state).load = { calls: 0, listings: 0, busyMs: 0 };
}

/** One cmdlet call: a listing (of `listed` VMs) or any other call. */
export type ServerCall = { kind: 'listing'; listed: number } | { kind: 'call' };

/** Charges the calls one after the other, each waiting for the server to be free. */
export async function charge(
  state: LabState,
  calls: ServerCall[],
  sleep: (ms: number) => Promise<void>,
): Promise<void> {
  const server = serverOf(state);
  const { callMs, listingPerVmMs } = state.scenario.fvp.managementCost;
  for (const call of calls) {
    const cost = callMs + (call.kind === 'listing' ? listingPerVmMs * call.listed : 0);
    server.load.calls += 1;
    if (call.kind === 'listing') server.load.listings += 1;
    server.load.busyMs += cost;
    if (cost <= 0) continue;
    const turn = server.queue.then(() => sleep(cost));
    server.queue = turn;
    await turn;
  }
}
