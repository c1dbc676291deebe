/**
 * A typed client of the lab's HTTP API (see lab/server.ts), for tests, the demo and benchmarks.
 */
import { Envelope, type OperationArgs, type OperationName } from '../activities/powershell/operations';
import { type EndpointName } from '../domain/endpoint';
import { type RequestedPolicy } from '../domain/policy';
import type {
  FaultsView,
  InvocationsQuery,
  InvocationsView,
  LabStateView,
  Verdict,
  VerdictsQuery,
  VmTimeline,
  VmView,
} from './api';
import type { FaultRuleInput } from './model/faults';
import type { InvokeRequest, InvokeResponse } from './protocol';
import type { Scenario, ScenarioInput } from './scenario';

/** A non-2xx answer of the lab; `message` is the lab's `error` text (it names the bad field on a 400). */
export class LabApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'LabApiError';
  }
}

export interface InvokeOptions {
  /** Host process id the call pretends to come from (default 1). */
  pid?: number;
  credential?: { user: string; password: string } | null;
}

export class LabClient {
  readonly url: string;

  constructor(url: string) {
    this.url = url.replace(/\/+$/, '');
  }

  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      throw new LabApiError(response.status, `lab answered non-JSON (${response.status}): ${text.slice(0, 200)}`);
    }
    if (!response.ok) {
      const message =
        typeof parsed === 'object' && parsed !== null && 'error' in parsed ? String(parsed.error) : text.slice(0, 200);
      throw new LabApiError(response.status, message);
    }
    return parsed as T;
  }

  health(): Promise<{ simulator: true; name: string; notice: string; now: number }> {
    return this.request('GET', '/');
  }

  /** What the fake PowerShell host does for every Invoke-Op line. */
  invoke(request: InvokeRequest): Promise<InvokeResponse> {
    return this.request('POST', '/ps/invoke', request);
  }

  /**
   * Calls an operation as a host process would and returns the printed envelope. Throws when the
   * lab tells the host to do something else (die, hang, stderr, garbage: see `invoke`).
   */
  async call<O extends OperationName>(
    endpoint: EndpointName,
    op: O,
    args: OperationArgs<O>,
    options: InvokeOptions = {},
  ): Promise<Envelope> {
    const response = await this.invoke({
      endpoint,
      pid: options.pid ?? 1,
      op,
      args,
      credential: options.credential ?? null,
    });
    if (response.kind !== 'print') throw new Error(`lab told the host to ${response.kind} instead of printing`);
    return Envelope.parse(JSON.parse(response.stdout));
  }

  /** Connect-Endpoint for a pretend host process, so that `call` works when the scenario requires it. */
  async connect(endpoint: EndpointName, options: InvokeOptions = {}): Promise<Envelope> {
    return this.call(endpoint, 'Connect-Endpoint', { server: `${endpoint}.lab.invalid` }, options);
  }

  loadScenario(scenario: ScenarioInput): Promise<LabStateView> {
    return this.request('POST', '/scenario', scenario);
  }

  scenario(): Promise<Scenario & { credentialUsers: Record<EndpointName, string | null> }> {
    return this.request('GET', '/scenario');
  }

  state(): Promise<LabStateView> {
    return this.request('GET', '/state');
  }

  async verdicts(query: VerdictsQuery = {}): Promise<Verdict[]> {
    const result = await this.request<{ verdicts: Verdict[] }>('GET', `/verdicts${toQuery(query)}`);
    return result.verdicts;
  }

  async timeline(): Promise<VmTimeline[]> {
    const result = await this.request<{ vms: VmTimeline[] }>('GET', '/timeline');
    return result.vms;
  }

  invocations(query: InvocationsQuery = {}): Promise<InvocationsView> {
    return this.request('GET', `/invocations${toQuery(query)}`);
  }

  /** Replaces the fault rules (an empty list clears them); `seed` reseeds their PRNG. */
  setFaults(rules: FaultRuleInput[], seed?: number): Promise<FaultsView> {
    return this.request('POST', '/faults', seed === undefined ? { rules } : { rules, seed });
  }

  clearFaults(): Promise<FaultsView> {
    return this.setFaults([]);
  }

  faults(): Promise<FaultsView> {
    return this.request('GET', '/faults');
  }

  setManagementServer(up: boolean): Promise<{ up: boolean }> {
    return this.request('POST', '/fvp/management-server', { up });
  }

  setVeeamServer(up: boolean): Promise<{ up: boolean }> {
    return this.request('POST', '/veeam/server', { up });
  }

  /** An admin changes a VM's requested policy by hand. */
  setVmPolicy(vm: string, requested: RequestedPolicy): Promise<VmView> {
    return this.request('POST', `/vms/${encodeURIComponent(vm)}/policy`, { requested });
  }

  /**
   * The VM leaves FVP: `fvp`, FVP no longer knows it (deleted, or removed from FVP); `cluster`,
   * it is removed from its FVP cluster (no longer accelerated).
   */
  removeVm(vm: string, from: 'fvp' | 'cluster'): Promise<{ vm: VmView | null }> {
    return this.request('POST', `/vms/${encodeURIComponent(vm)}/remove`, { from });
  }

  /**
   * The VM is renamed in vCenter to `to` (same uuid, policy, dirty data and jobs); `uuid` picks one
   * of two same-name VMs of two flash clusters.
   */
  renameVm(vm: string, to: string, uuid?: string): Promise<{ vm: VmView }> {
    return this.request('POST', `/vms/${encodeURIComponent(vm)}/rename`, uuid === undefined ? { to } : { to, uuid });
  }

  /** Veeam's scheduler starts a session of `job` (a retry when `retry` > 0): see lab/scheduler.ts. */
  startScheduledSession(
    job: string,
    body: { retry?: number; outcome?: 'Success' | 'Warning' | 'Failed' } = {},
  ): Promise<{ id: string; name: string; createdAt: number }> {
    return this.request('POST', `/veeam/jobs/${encodeURIComponent(job)}/scheduled-session`, body);
  }

  /** Reloads the loaded scenario from scratch (clears sessions, verdicts, invocations, faults). */
  reset(): Promise<LabStateView> {
    return this.request('POST', '/reset', {});
  }
}

function toQuery(query: object): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query) as [string, unknown][]) {
    if (value !== undefined) params.set(key, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}
