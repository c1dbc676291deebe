/**
 * The lab: the simulated FVP cluster, Veeam server and PowerShell module behind one object, with
 * an injectable clock. It holds a LabState (persisted by the server after every change) and a
 * bounded invocation log. Every time-dependent answer is computed from timestamps when asked.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { operationNames } from '../activities/powershell/operations';
import { Envelope, type WireEnvelope } from '../activities/powershell/operations';
import type { EndpointName } from '../domain/endpoint';
import type { RequestedPolicy } from '../domain/policy';
import type {
  FaultsView,
  InvocationRecord,
  InvocationsQuery,
  InvocationsView,
  LabStateView,
  SessionView,
  VerdictsQuery,
  VmTimeline,
} from './api';
import { InvocationsQuery as InvocationsQuerySchema, VerdictsQuery as VerdictsQuerySchema } from './api';
import { describeIssues } from './model/errors';
import { SetFaultsBody, armFault, pickFault, type FaultRule } from './model/faults';
import {
  currentRequested,
  effectiveAt,
  removeVm,
  setRequested,
  timeToDestageMs,
  unflushedWritesAt,
  writeThroughWindows,
  type VmRemoval,
} from './model/fvp';
import { LIMITS, LabState, pushBounded, type CredentialHash, type Verdict } from './model/state';
import { dueSnapshots, endAt, isLive, sessionDoc, snapshotAt, taskTimings } from './model/veeam';
import { judge } from './model/verdict';
import { ScheduledSessionBody, scheduledSessionName, startScheduledSession } from './model/scheduler';
import { hashCredential, runOp } from './ops';
import type { InvokeRequest, InvokeResponse } from './protocol';
import { Scenario, type Credential } from './scenario';
import { addedObjects, processedVms, vmMoref } from './model/inventory';
import { renameVm } from './model/rename';
import { FLASH_CLUSTER } from './model/raw';

/** Bad input to the lab's own API (the server answers 400 with this message). */
export class LabInputError extends Error {
  override name = 'LabInputError';
}

export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new LabInputError(`invalid ${what}: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

/** Where the invocation log is kept beyond memory (the server appends it to a file). */
export interface InvocationSink {
  append(record: InvocationRecord): void;
  clear(): void;
}

export interface LabOptions {
  /** Epoch milliseconds (integers); default Date.now. */
  clock?: () => number;
  /** Waits `ms` of the clock's time; default setTimeout. A fake clock advances itself here. */
  sleep?: (ms: number) => Promise<void>;
  /** Ids of new Veeam sessions; default crypto.randomUUID. */
  newId?: () => string;
  sink?: InvocationSink;
  /** Invocation records to start from (loaded from the sink's file). */
  invocations?: InvocationRecord[];
  /** Called when the state becomes dirty (once until takeDirty()); the server persists then. */
  onChange?: () => void;
}

/** A stable GUID-shaped id derived from a name, so ids survive reloads of the same scenario. */
export function nameUuid(kind: string, name: string): string {
  const h = createHash('sha1').update(`${kind}\0${name}`).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function hashed(credential: Credential | undefined): CredentialHash | null {
  if (credential === undefined) return null;
  const salt = randomBytes(16).toString('hex');
  return { user: credential.user, salt, hash: hashCredential(credential.user, credential.password, salt) };
}

/** The initial state for a scenario loaded at `now`. */
export function buildState(scenario: Scenario, now: number, credentials: LabState['credentials']): LabState {
  return {
    version: 1,
    loadedAt: now,
    scenario: { ...scenario, credentials: {} },
    credentials,
    requireConnect: scenario.requireConnect,
    fvp: {
      server: scenario.fvp.server,
      managementServerUp: scenario.fvp.managementServerUp,
      faultDomains: scenario.fvp.faultDomains,
      waitTimeCapMs: scenario.fvp.waitTimeCapMs,
      vms: scenario.fvp.vms.map((vm) => ({
        name: vm.name,
        // A twin of another flash cluster is another VM: another uuid and vSphere id than its namesake's.
        uuid: vm.uuid ?? nameUuid('vm', vm.flashCluster === undefined ? vm.name : `${vm.flashCluster}\0${vm.name}`),
        ...(vm.flashCluster === undefined
          ? {}
          : { flashCluster: vm.flashCluster, moref: vmMoref(`${vm.flashCluster}\0${vm.name}`) }),
        accelerated: vm.accelerated,
        hostHasFlash: vm.hostHasFlash,
        writeIntervalMs: vm.writeIntervalMs,
        destageMs: vm.destageMs,
        writeAnchor: now,
        history: [{ at: now, requested: { ...vm.requested }, source: 'scenario', pid: null }],
      })),
      proxies: scenario.fvp.proxies.map((p) => ({
        name: p.name,
        uuid: p.uuid ?? nameUuid('vm', p.name),
        vadpSince: p.vadp ? now : null,
      })),
    },
    veeam: {
      server: scenario.veeam.server,
      serverUp: scenario.veeam.serverUp,
      jobs: scenario.veeam.jobs.map((job) => ({
        id: job.id ?? nameUuid('job', job.name),
        name: job.name,
        vms: processedVms(job),
        objects: addedObjects(job),
        startDelayMs: job.startDelayMs,
        taskMs: job.taskMs,
        taskSlots: job.taskSlots,
        vmTasks: structuredClone(job.vmTasks),
        stopDelayMs: job.stopDelayMs,
        outcome: job.outcome,
        transportMode: job.transportMode,
        proxies: [...job.proxies],
        scheduleEnabled: job.scheduleEnabled,
      })),
      sessions: [],
      lookups: { calls: {}, rowsRead: 0, fullScans: 0 },
    },
    verdicts: [],
    faults: { seed: scenario.seed, prng: scenario.seed, rules: [] },
    connections: [],
    counters: { invocations: 0, nextSeq: 1, byOp: {}, pids: { fvp: [], veeam: [] } },
  };
}

export class Lab {
  private dirty = false;
  private readonly clock: () => number;
  private readonly sleepFn: (ms: number) => Promise<void>;
  private readonly newId: () => string;
  private readonly sink: InvocationSink | undefined;
  private readonly log: InvocationRecord[];
  private readonly onChange: (() => void) | undefined;

  constructor(
    public state: LabState,
    options: LabOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.sleepFn = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.newId = options.newId ?? randomUUID;
    this.sink = options.sink;
    this.onChange = options.onChange;
    this.log = [...(options.invocations ?? [])].sort((a, b) => a.seq - b.seq).slice(-LIMITS.invocations);
  }

  /** A lab running `scenario` (the `POST /scenario` body). Throws LabInputError naming the field. */
  static fromScenario(scenario: unknown, options: LabOptions = {}): Lab {
    const lab = new Lab(
      buildState(Scenario.parse({}), Math.floor((options.clock ?? Date.now)()), emptyCreds()),
      options,
    );
    lab.loadScenario(scenario);
    return lab;
  }

  /** Validates a persisted state (the state file). */
  static parseState(value: unknown): LabState {
    return parseInput(LabState, value, 'state file');
  }

  now(): number {
    return Math.floor(this.clock());
  }

  /** True once since the last call if the state changed (the server then persists it). */
  takeDirty(): boolean {
    const was = this.dirty;
    this.dirty = false;
    return was;
  }

  private touch(): void {
    if (this.dirty) return;
    this.dirty = true;
    this.onChange?.();
  }

  // ---- scenario and admin ------------------------------------------------------------------

  /** Replaces all state with a new scenario; clears the invocation log, sessions, verdicts, faults. */
  loadScenario(input: unknown): void {
    const scenario = parseInput(Scenario, input, 'scenario');
    const credentials = { fvp: hashed(scenario.credentials.fvp), veeam: hashed(scenario.credentials.veeam) };
    this.replaceState(buildState(scenario, this.now(), credentials));
  }

  /** Reloads the current scenario from scratch (same credentials), as if it had just been posted. */
  reset(): void {
    this.replaceState(buildState(Scenario.parse(this.state.scenario), this.now(), this.state.credentials));
  }

  private replaceState(state: LabState): void {
    this.state = state;
    this.log.length = 0;
    this.sink?.clear();
    this.touch();
  }

  setFaults(body: unknown): FaultsView {
    const parsed = parseInput(SetFaultsBody, body, 'faults');
    const now = this.now();
    this.state.faults.rules = parsed.rules.map((rule) => ({ rule: armFault(rule, now), applied: 0 }));
    if (parsed.seed !== undefined) {
      this.state.faults.seed = parsed.seed;
      this.state.faults.prng = parsed.seed;
    }
    this.touch();
    return this.faults();
  }

  faults(): FaultsView {
    return {
      seed: this.state.faults.seed,
      rules: this.state.faults.rules.map(({ rule, applied }) => ({
        rule,
        applied,
        remaining: rule.times === undefined ? null : Math.max(0, rule.times - applied),
      })),
    };
  }

  setManagementServer(up: boolean): void {
    this.state.fvp.managementServerUp = up;
    this.touch();
  }

  setVeeamServer(up: boolean): void {
    this.state.veeam.serverUp = up;
    this.touch();
  }

  /** An admin changes a VM's requested policy by hand (throws LabInputError for an unknown VM). */
  setVmPolicy(name: string, requested: RequestedPolicy): void {
    const vm = this.state.fvp.vms.find((v) => v.name === name);
    if (vm === undefined) throw new LabInputError(`unknown VM ${JSON.stringify(name)}`);
    if (requested.externalPeers !== null && !this.state.fvp.faultDomains) {
      throw new LabInputError('invalid policy: requested.externalPeers must be null without fault domains');
    }
    if (setRequested(vm, this.now(), requested, 'admin', null)) this.touch();
  }

  /** A VM leaves FVP mid-run (lab/model/fvp.ts removeVm; throws LabInputError for an unknown VM). */
  removeVm(name: string, from: VmRemoval): void {
    if (!this.state.fvp.vms.some((v) => v.name === name)) throw new LabInputError(`unknown VM ${JSON.stringify(name)}`);
    if (removeVm(this.state.fvp.vms, name, from)) this.touch();
  }

  /**
   * A VM renamed in vCenter (lab/model/rename.ts): it keeps its uuid, policy, dirty data and its
   * jobs. `uuid` picks one of several VMs of that name (twins of two flash clusters). Returns the
   * renamed VM's uuid; throws LabInputError for an unknown or ambiguous VM, or a name already taken
   * in its flash cluster.
   */
  renameVm(name: string, to: string, uuid?: string): string {
    const named = this.state.fvp.vms.filter((v) => v.name === name && (uuid === undefined || v.uuid === uuid));
    if (named.length === 0) {
      throw new LabInputError(`unknown VM ${JSON.stringify(name)}${uuid === undefined ? '' : ` with uuid ${uuid}`}`);
    }
    if (named.length > 1)
      throw new LabInputError(`${named.length} VMs are named ${JSON.stringify(name)}: give its uuid`);
    const vm = named[0]!;
    if (to === name) return vm.uuid;
    const cluster = (v: { flashCluster?: string | undefined }) => v.flashCluster ?? FLASH_CLUSTER;
    if (this.state.fvp.vms.some((v) => v.name === to && cluster(v) === cluster(vm))) {
      throw new LabInputError(`a VM of ${cluster(vm)} is already named ${JSON.stringify(to)}`);
    }
    // Every verdict due so far is given under the names the sessions had until now.
    this.advance(this.now());
    renameVm(this.state, vm, to);
    this.touch();
    return vm.uuid;
  }

  /** Veeam's scheduler starts a session of the job (lab/scheduler.ts): throws LabInputError when it cannot. */
  startScheduledSession(jobName: string, body: unknown): { id: string; name: string; createdAt: number } {
    const parsed = parseInput(ScheduledSessionBody, body, 'scheduled session');
    let session;
    try {
      session = startScheduledSession(this.state, jobName, parsed, this.now(), this.newId());
    } catch (err) {
      throw new LabInputError((err as Error).message);
    }
    this.touch();
    return { id: session.id, name: scheduledSessionName(jobName, parsed.retry), createdAt: session.createdAt };
  }

  // ---- the PowerShell host -----------------------------------------------------------------

  /** Answers one `Invoke-Op` call forwarded by the fake PowerShell host. */
  async invoke(request: InvokeRequest): Promise<InvokeResponse> {
    const at = this.now();
    this.advance(at);
    const { endpoint, pid, op } = request;
    const counters = this.state.counters;
    const record: InvocationRecord = {
      seq: counters.nextSeq,
      at,
      endpoint,
      pid,
      op,
      args: request.args,
      credentialSupplied: request.credential !== null,
      response: 'pending',
      fault: null,
      error: null,
    };
    counters.nextSeq += 1;
    counters.invocations += 1;
    const opKey = isOperationName(op) ? op : '(unknown)';
    counters.byOp[opKey] = (counters.byOp[opKey] ?? 0) + 1;
    if (!counters.pids[endpoint].includes(pid)) pushBounded(counters.pids[endpoint], pid, LIMITS.pids);
    pushBounded(this.log, record, LIMITS.invocations);
    this.touch();

    const connectedAt = this.state.connections.find((c) => c.endpoint === endpoint && c.pid === pid)?.at;
    const fault = pickFault(this.state.faults, { endpoint, op, pid, connectedAt });
    let envelope: WireEnvelope | null = null;
    if (fault === null || fault.afterEffect || fault.action === 'delay') {
      envelope = await runOp(this.opContext(request), op, request.args);
    }
    const response = fault === null ? print(envelope!) : faultResponse(fault, op, envelope);
    record.fault = fault?.action ?? null;
    record.response = describeResponse(response, fault);
    if (response.kind === 'print' && record.response === 'error') {
      // Classified as the worker does (a raw error from the simulated module, or an injected fault's).
      const shown = Envelope.parse(JSON.parse(response.stdout));
      if (!shown.ok) record.error = { type: shown.error.type, category: shown.error.category };
    }
    this.sink?.append(record);
    this.advance(this.now());
    return response;
  }

  private opContext(request: InvokeRequest) {
    return {
      state: this.state,
      now: () => this.now(),
      sleep: (ms: number) => this.sleepFn(ms),
      newId: () => this.newId(),
      touch: () => this.touch(),
      call: { endpoint: request.endpoint, pid: request.pid, credential: request.credential },
    };
  }

  /** Judges every snapshot whose read is over by time t and that has no verdict yet. */
  advance(t: number = this.now()): void {
    for (const session of this.state.veeam.sessions) {
      for (const due of dueSnapshots(session, t)) {
        // The VM by identity: a rename reaches every session with a task still to judge
        // (lab/model/rename.ts), so this name is the VM's own whatever it was called when the session began.
        const vm = this.state.fvp.vms.find((v) => v.name === due.vm);
        const verdict = judge(session, due.vm, vm, this.state.fvp.proxies, due.at, due.readUntil);
        pushBounded(this.state.verdicts, verdict, LIMITS.verdicts);
        session.judged = due.index + 1;
        this.touch();
      }
    }
  }

  // ---- views -------------------------------------------------------------------------------

  verdicts(query: VerdictsQuery = {}): Verdict[] {
    const q = parseInput(VerdictsQuerySchema, query, 'query');
    this.advance();
    return this.state.verdicts.filter(
      (v) =>
        (q.job === undefined || v.job === q.job) &&
        (q.vm === undefined || v.vm === q.vm) &&
        (q.sessionId === undefined || v.sessionId === q.sessionId),
    );
  }

  timeline(): VmTimeline[] {
    return this.state.fvp.vms.map((vm) => ({
      vm: vm.name,
      events: vm.history.map((e) => ({ ...e, requested: { ...e.requested } })),
      writeThroughWindows: writeThroughWindows(vm),
    }));
  }

  invocations(query: InvocationsQuery = {}): InvocationsView {
    const q = parseInput(InvocationsQuerySchema, query, 'query');
    return {
      invocations: this.log.filter(
        (r) =>
          (q.sinceSeq === undefined || r.seq >= q.sinceSeq) &&
          (q.op === undefined || r.op === q.op) &&
          (q.endpoint === undefined || r.endpoint === q.endpoint),
      ),
      nextSeq: this.state.counters.nextSeq,
    };
  }

  view(): LabStateView {
    const now = this.now();
    this.advance(now);
    const { fvp, veeam } = this.state;
    const sessionsByJob = Object.create(null) as Record<string, number>;
    for (const job of veeam.jobs) sessionsByJob[job.name] = 0;
    for (const s of veeam.sessions) sessionsByJob[s.jobName] = (sessionsByJob[s.jobName] ?? 0) + 1;
    const sessions: SessionView[] = veeam.sessions.map((s) => ({
      ...sessionDoc(s, now),
      createdAt: s.createdAt,
      endsAt: endAt(s),
      stopRequestedAt: s.stopRequestedAt,
      fullBackup: s.fullBackup,
      retryBackup: s.retryBackup,
      snapshots: taskTimings(s).map((task) => ({ vm: task.vm, at: snapshotAt(s, task) })),
    }));
    const user = (c: CredentialHash | null) => (c === null ? null : { user: c.user });
    return {
      simulator: true,
      now,
      loadedAt: this.state.loadedAt,
      requireConnect: this.state.requireConnect,
      fvp: {
        server: fvp.server,
        managementServerUp: fvp.managementServerUp,
        faultDomains: fvp.faultDomains,
        waitTimeCapMs: fvp.waitTimeCapMs,
        vms: fvp.vms.map((vm) => ({
          name: vm.name,
          uuid: vm.uuid,
          accelerated: vm.accelerated,
          hostHasFlash: vm.hostHasFlash,
          requested: { ...currentRequested(vm) },
          effective: effectiveAt(vm, now),
          timeToDestageSeconds: timeToDestageMs(vm, now) / 1000,
          unflushedWrites: unflushedWritesAt(vm, now),
          writeIntervalMs: vm.writeIntervalMs,
          destageMs: vm.destageMs,
        })),
        proxies: fvp.proxies.map((p) => ({
          name: p.name,
          uuid: p.uuid,
          vadp: p.vadpSince !== null,
          vadpSince: p.vadpSince,
        })),
      },
      veeam: {
        server: veeam.server,
        serverUp: veeam.serverUp,
        jobs: veeam.jobs.map((job) => ({
          id: job.id,
          name: job.name,
          vms: [...job.vms],
          isRunning: veeam.sessions.some((s) => s.jobId === job.id && isLive(s, now)),
          sessionCount: sessionsByJob[job.name] ?? 0,
          outcome: job.outcome,
          transportMode: job.transportMode,
          proxies: [...job.proxies],
        })),
        sessions,
        lookups: structuredClone(veeam.lookups),
      },
      credentials: { fvp: user(this.state.credentials.fvp), veeam: user(this.state.credentials.veeam) },
      connections: this.state.connections.map((c) => ({ ...c })),
      faults: this.faults(),
      counts: {
        invocations: this.state.counters.invocations,
        invocationsByOp: { ...this.state.counters.byOp },
        hostProcesses: { fvp: this.state.counters.pids.fvp.length, veeam: this.state.counters.pids.veeam.length },
        sessionsByJob,
        verdicts: this.state.verdicts.length,
        inconsistentVerdicts: this.state.verdicts.filter((v) => !v.consistent).length,
      },
    };
  }

  /** The scenario as loaded (credentials reduced to their user names). */
  scenario(): Scenario & { credentialUsers: Record<EndpointName, string | null> } {
    return {
      ...this.state.scenario,
      credentialUsers: {
        fvp: this.state.credentials.fvp?.user ?? null,
        veeam: this.state.credentials.veeam?.user ?? null,
      },
    };
  }
}

function isOperationName(op: string): boolean {
  return (operationNames as string[]).includes(op);
}

function emptyCreds(): LabState['credentials'] {
  return { fvp: null, veeam: null };
}

function print(envelope: WireEnvelope, delayMs = 0): InvokeResponse {
  return { kind: 'print', stdout: JSON.stringify(envelope), delayMs };
}

function faultResponse(rule: FaultRule, op: string, envelope: WireEnvelope | null): InvokeResponse {
  switch (rule.action) {
    case 'fail':
      return print({
        ok: false,
        op,
        error: {
          type: rule.type ?? 'InjectedFault',
          message: rule.message ?? `injected fault: ${op} failed`,
          category: rule.category,
        },
      });
    case 'server-restart':
      return print({
        ok: false,
        op,
        error: {
          type: rule.type ?? 'Unauthorized',
          message:
            rule.message ??
            `The remote server returned an error: (401) Unauthorized. The session is not valid (the server restarted at ${new Date(rule.restartedAt ?? 0).toISOString()})`,
          category: rule.category,
        },
      });
    case 'die':
      return { kind: 'die', exitCode: rule.exitCode ?? 1 };
    case 'hang':
      return { kind: 'hang' };
    case 'garbage':
      return { kind: 'print', stdout: rule.stdout ?? 'WARNING: this is not JSON at all', delayMs: 0 };
    case 'stderr':
      return { kind: 'stderr', stderr: rule.message ?? `Invoke-Op : injected error on stderr during ${op}` };
    case 'delay':
      return print(envelope!, rule.delayMs ?? 1000);
  }
}

function describeResponse(response: InvokeResponse, fault: FaultRule | null): InvocationRecord['response'] {
  switch (response.kind) {
    case 'die':
      return 'die';
    case 'hang':
      return 'hang';
    case 'stderr':
      return 'stderr';
    case 'print':
      if (fault?.action === 'garbage') return 'garbage';
      return (JSON.parse(response.stdout) as Envelope).ok ? 'ok' : 'error';
  }
}
