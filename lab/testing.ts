/**
 * An in-process lab on a fake clock, for fast unit tests of the simulation (and of code that wants
 * to drive the lab without a server). Time only moves when the test advances it; a cmdlet that
 * waits (Set-VmWriteThrough -WaitTimeSeconds) advances it by the time it waits.
 */
import { Envelope, type OperationArgs, type OperationName } from '../activities/powershell/operations';
import { type EndpointName } from '../domain/endpoint';
import { Lab } from './lab';
import type { InvokeResponse } from './protocol';
import type { ScenarioInput } from './scenario';
import type { FlushState, VmPolicy } from '../domain/policy';
import {
  interpretFlushState,
  interpretFvpServer,
  interpretVmPolicy,
  type FvpServerFacts,
} from '../activities/vendor/interpret';
import type { RawFvpVmMatches, RawValue } from '../activities/powershell/operations';
import type { OperationInvoker } from '../activities/invoker';
import { PowerShellError } from '../activities/powershell/errors';

export class FakeClock {
  constructor(public t: number = Date.UTC(2025, 0, 1)) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
  sleep = (ms: number): Promise<void> => {
    this.t += ms;
    return Promise.resolve();
  };
}

export interface FakeLab {
  lab: Lab;
  clock: FakeClock;
  /** Invokes an op from host process `pid` (default 1) and returns the raw response. */
  invoke(endpoint: EndpointName, op: string, args: unknown, pid?: number): Promise<InvokeResponse>;
  /** Invokes an op and parses the printed envelope (throws if the host was told to do anything else). */
  call<O extends OperationName>(endpoint: EndpointName, op: O, args: OperationArgs<O>, pid?: number): Promise<Envelope>;
  /** Returns the result of a successful call, throws with the error envelope otherwise. */
  ok<O extends OperationName>(endpoint: EndpointName, op: O, args: OperationArgs<O>, pid?: number): Promise<unknown>;
  /** A VM's policy as the activities read it: the raw answer, interpreted (null: FVP does not know it). */
  policy(vm: string, pid?: number): Promise<VmPolicy | null>;
  /** A VM's flush state as the activities read it (with -StartTime where the FVP build needs it). */
  flush(vm: string, pid?: number): Promise<FlushState>;
}

/** What PowerShellPool.invoke does with the lab's FVP envelopes: the result, or a PowerShellError of its category. */
export function fvpInvoker(f: Pick<FakeLab, 'call'>): OperationInvoker {
  return {
    async invoke(op, args) {
      const envelope = await f.call('fvp', op, args);
      if (envelope.ok) return envelope.result as never;
      throw new PowerShellError(envelope.error.message, {
        op,
        endpoint: 'fvp',
        category: envelope.error.category,
        errorType: envelope.error.type,
      });
    },
  };
}

let ids = 0;

/** A lab running `scenario` on a fake clock, with host process 1 connected where no credentials are expected. */
export async function fakeLab(scenario: ScenarioInput, clock = new FakeClock()): Promise<FakeLab> {
  const lab = Lab.fromScenario(scenario, {
    clock: clock.now,
    sleep: clock.sleep,
    newId: () => `00000000-0000-4000-8000-${String(++ids).padStart(12, '0')}`,
  });
  const invoke = (endpoint: EndpointName, op: string, args: unknown, pid = 1) =>
    lab.invoke({ endpoint, pid, op, args, credential: null });
  const call = async (endpoint: EndpointName, op: string, args: unknown, pid = 1): Promise<Envelope> => {
    const response = await invoke(endpoint, op, args, pid);
    if (response.kind !== 'print') throw new Error(`expected an envelope, the lab answered ${response.kind}`);
    return Envelope.parse(JSON.parse(response.stdout));
  };
  const fake: FakeLab = {
    lab,
    clock,
    invoke,
    call,
    async ok(endpoint, op, args, pid) {
      const envelope = await call(endpoint, op, args, pid);
      if (!envelope.ok) throw new Error(`${op} failed: ${JSON.stringify(envelope.error)}`);
      return envelope.result;
    },
    async policy(vm, pid) {
      const facts = await serverFacts(pid);
      return interpretVmPolicy(vm, (await fake.ok('fvp', 'Get-VmCachePolicy', { vm }, pid)) as RawFvpVmMatches, facts);
    },
    async flush(vm, pid) {
      const facts = await serverFacts(pid);
      const args = facts.statsStartTime === undefined ? { vm } : { vm, startTime: facts.statsStartTime };
      return interpretFlushState(vm, (await fake.ok('fvp', 'Get-VmFlushState', args, pid)) as RawFvpVmMatches, facts);
    },
  };
  async function serverFacts(pid?: number): Promise<FvpServerFacts> {
    const answer = (await fake.ok('fvp', 'Get-FvpServer', {}, pid)) as { servers: RawValue[] };
    return interpretFvpServer(answer.servers);
  }
  // Connect pid 1 wherever no credentials are expected (tests of credentials connect themselves).
  for (const endpoint of ['fvp', 'veeam'] as const) {
    if (lab.state.credentials[endpoint] === null) await call(endpoint, 'Connect-Endpoint', { server: endpoint });
  }
  return fake;
}
