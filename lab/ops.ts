/**
 * The simulated PowerShell module: one handler per operation of operations.ts, each returning the
 * raw document the real function prints (validated against `operations[op].result`) or throwing an
 * OpError whose raw facts become an error envelope (the worker classifies them). Like the module,
 * it decides nothing the worker decides: no precondition, no "already in place".
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  ConnectArgs,
  operations,
  type OperationName,
  type WireEnvelope,
  type SessionLookup,
  type OperationResult,
  type RawCall,
} from '../activities/powershell/operations';
import { type EndpointName } from '../domain/endpoint';
import type { InvokeRequest } from './protocol';
import { doctorObservations, rawDoctor } from './doctor';
import { OpError, VENDOR_EXCEPTION, describeIssues, moduleError, quoteName, vendorError } from './model/errors';
import { WRITE_THROUGH_POLICY, setRequested, timeToDestageMs } from './model/fvp';
import {
  LIMITS,
  pushBounded,
  type CredentialHash,
  type LabState,
  type SessionRecord,
  type VmState,
} from './model/state';
import { findSession, isLive, isVisible, sessionDoc } from './model/veeam';
import { rawJob, rawProxy, rawServer, rawSession, rawSessionObject, rawVm } from './model/raw';
import { charge, type ServerCall } from './model/fvp-server';
import { viEntities, vmMoref } from './model/inventory';
import { wildcardMatches } from './model/wildcard';
import type { z } from 'zod';

export interface OpContext {
  state: LabState;
  now(): number;
  sleep(ms: number): Promise<void>;
  newId(): string;
  /** Marks the state as changed (to be persisted). */
  touch(): void;
  call: Pick<InvokeRequest, 'endpoint' | 'pid' | 'credential'>;
}

type Args<O extends OperationName> = z.infer<(typeof operations)[O]['args']>;
type Handler<O extends OperationName> = (
  ctx: OpContext,
  args: Args<O>,
) => OperationResult<O> | Promise<OperationResult<O>>;

export function hashCredential(user: string, password: string, salt: string): string {
  return createHash('sha256').update(`${salt}\0${user}\0${password}`).digest('hex');
}

function credentialMatches(expected: CredentialHash, user: string, password: string): boolean {
  const actual = Buffer.from(hashCredential(user, password, expected.salt), 'hex');
  const wanted = Buffer.from(expected.hash, 'hex');
  return user === expected.user && actual.length === wanted.length && timingSafeEqual(actual, wanted);
}

/**
 * The VMs Set-PrnxAccelerationPolicy addresses: by -UUID, or by -Name (literally, or as a wildcard
 * pattern when the scenario's fvp.nameParameter says so). A -Name that several VMs match (same-name
 * VMs of two flash clusters, a pattern) addresses every one of them: the lab's pessimistic guess, so
 * that a write meant for one VM shows on the others. Errors as the cmdlet would report them; their
 * texts are the lab's guesses (not evidenced).
 */
function writeTargets(ctx: OpContext, args: { vm: string; uuid?: string | undefined }): VmState[] {
  const byName =
    ctx.state.scenario.fvp.nameParameter === 'wildcard'
      ? (v: VmState) => wildcardMatches(args.vm, v.name)
      : (v: VmState) => v.name === args.vm;
  const vms = ctx.state.fvp.vms.filter((v) => (args.uuid === undefined ? byName(v) : v.uuid === args.uuid));
  const named = args.uuid === undefined ? quoteName(args.vm) : `with UUID ${quoteName(args.uuid)}`;
  if (vms.length === 0) throw vendorError(VENDOR_EXCEPTION.prnx, `Virtual machine ${named} was not found`);
  if (vms.some((vm) => !vm.accelerated))
    throw vendorError(VENDOR_EXCEPTION.prnx, `Virtual machine ${named} is not part of a flash cluster`);
  return vms;
}

/** Every VM named exactly `name` (Get-PrnxVM filtered by the module: none, one, or several). */
function matching(ctx: OpContext, name: string): VmState[] {
  return ctx.state.fvp.vms.filter((v) => v.name === name);
}

/** Resolve-VeeamJob: the job named exactly so, or the module's own JobNotFound. */
function findJob(ctx: OpContext, name: string) {
  const job = ctx.state.veeam.jobs.find((j) => j.name === name);
  if (job === undefined) throw moduleError('JobNotFound', `Veeam job ${quoteName(name)} was not found`);
  return job;
}

function findProxy(ctx: OpContext, name: string) {
  const proxy = ctx.state.fvp.proxies.find((p) => p.name === name);
  if (proxy === undefined) throw vendorError(VENDOR_EXCEPTION.prnx, `Virtual machine ${quoteName(name)} was not found`);
  return proxy;
}

function serverDown(endpoint: EndpointName, state: LabState): OpError | null {
  if (endpoint === 'fvp' && !state.fvp.managementServerUp) {
    return vendorError(
      VENDOR_EXCEPTION.web,
      `Could not connect to FVP Management Server ${quoteName(state.fvp.server)}`,
    );
  }
  if (endpoint === 'veeam' && !state.veeam.serverUp) {
    return vendorError(
      VENDOR_EXCEPTION.web,
      `Could not connect to Veeam Backup server ${quoteName(state.veeam.server)}`,
    );
  }
  return null;
}

/**
 * A per-job session lookup as the module makes it, charged to the lab's cost counters. -Job exists
 * from Veeam 13 only: on 12 it fails as the real cmdlet does (a parameter-binding error).
 */
function lookupSessions(ctx: OpContext, jobId: string, lookup: SessionLookup): void {
  if (lookup === 'JobParameter' && ctx.state.scenario.vendor.veeam !== '13') {
    throw vendorError(
      VENDOR_EXCEPTION.binding,
      "A parameter cannot be found that matches parameter name 'Job'.",
      'NamedParameterNotFound,Veeam.Backup.PowerShell.Cmdlets.GetVBRBackupSession',
    );
  }
  const costs = ctx.state.veeam.lookups;
  costs.calls[lookup] = (costs.calls[lookup] ?? 0) + 1;
  costs.rowsRead += lookup === 'FindLastSession' ? 1 : ctx.state.veeam.sessions.filter((s) => s.jobId === jobId).length;
  ctx.touch();
}

/** The unfiltered Get-VBRBackupSession: reads the whole history. Only doctor measures it. */
export function fullScan(ctx: OpContext): number {
  const costs = ctx.state.veeam.lookups;
  const rows = ctx.state.scenario.veeam.historySessions + ctx.state.veeam.sessions.length;
  costs.fullScans += 1;
  costs.rowsRead += rows;
  ctx.touch();
  return rows;
}

/** The job's sessions a per-job lookup lists at `now`: FindLastSession the newest visible one only, the others all visible. */
function listedSessions(ctx: OpContext, jobId: string, lookup: SessionLookup, now: number): SessionRecord[] {
  const visible = ctx.state.veeam.sessions.filter((s) => s.jobId === jobId && isVisible(s, now));
  const newest = findSession(visible, jobId, -Infinity, now);
  return lookup === 'FindLastSession' ? (newest === null ? [] : [newest]) : visible;
}

/** The job's session-appearance delay, from the scenario (the persisted job state predates it). */
function appearDelayOf(ctx: OpContext, jobName: string): number {
  return ctx.state.scenario.veeam.jobs.find((j) => j.name === jobName)?.sessionAppearDelayMs ?? 0;
}

const handlers: { [O in OperationName]: Handler<O> } = {
  'Connect-Endpoint': (ctx, args: z.infer<typeof ConnectArgs>) => {
    const { endpoint, pid, credential } = ctx.call;
    const expected = ctx.state.credentials[endpoint];
    if (expected !== null) {
      if (credential === null) {
        throw vendorError(
          VENDOR_EXCEPTION.auth,
          `authentication failed: no credentials supplied for ${quoteName(args.server)}`,
        );
      }
      if (!credentialMatches(expected, credential.user, credential.password)) {
        throw vendorError(
          VENDOR_EXCEPTION.auth,
          `authentication failed for user ${quoteName(credential.user)} on ${quoteName(args.server)}`,
        );
      }
    }
    const connections = ctx.state.connections.filter((c) => !(c.endpoint === endpoint && c.pid === pid));
    pushBounded(
      connections,
      { endpoint, pid, server: args.server, port: args.port ?? null, at: ctx.now() },
      LIMITS.connections,
    );
    ctx.state.connections = connections;
    ctx.touch();
    return { connected: true };
  },

  'Get-Doctor': (ctx, args) => {
    const endpoint = ctx.call.endpoint;
    const down = serverDown(endpoint, ctx.state);
    return rawDoctor(endpoint, args.commands ?? [], doctorObservations(endpoint, ctx.state, ctx.now(), down));
  },

  'Get-VmCachePolicy': (ctx, args) => ({
    matches: matching(ctx, args.vm).map((vm) => rawVm(vm, ctx.now(), ctx.state.scenario.vendor)),
  }),

  'Get-FvpServer': (ctx) => ({ servers: [rawServer(ctx.state.scenario.vendor)] }),

  'Set-VmWriteThrough': async (ctx, args) => {
    const vms = writeTargets(ctx, args);
    const at = ctx.now();
    for (const vm of vms)
      if (setRequested(vm, at, WRITE_THROUGH_POLICY, 'Set-VmWriteThrough', ctx.call.pid)) ctx.touch();
    if (args.waitTimeSeconds !== undefined && args.waitTimeSeconds > 0) {
      // -WaitTimeSeconds is undocumented: the lab waits until the flush completes or a small cap,
      // whichever comes first, and returns regardless.
      const destage = Math.max(...vms.map((vm) => timeToDestageMs(vm, at)));
      const wait = Math.min(args.waitTimeSeconds * 1000, ctx.state.fvp.waitTimeCapMs, destage);
      if (wait > 0) await ctx.sleep(wait);
    }
    return { sent: true };
  },

  'Restore-VmCachePolicy': (ctx, args) => {
    const vms = writeTargets(ctx, args);
    if (args.policy.externalPeers !== null && !ctx.state.fvp.faultDomains) {
      // The real error text is unknown (finding 5): one no rule of classify.ts recognises.
      throw vendorError(
        VENDOR_EXCEPTION.prnx,
        `Fault domains are not configured: ${args.policy.externalPeers} external write-back peers cannot be set on ${quoteName(vms[0]!.name)}`,
      );
    }
    // On a host without flash FVP records the requested policy; the effective one stays write-through.
    for (const vm of vms) {
      if (setRequested(vm, ctx.now(), args.policy, 'Restore-VmCachePolicy', ctx.call.pid)) ctx.touch();
    }
    return { sent: true };
  },

  'Get-VmFlushState': (ctx, args) => ({
    matches: matching(ctx, args.vm).map((vm) =>
      rawVm(vm, ctx.now(), ctx.state.scenario.vendor, args.startTime ?? null),
    ),
  }),

  'Get-FvpVms': (ctx) => ({
    vms: [
      ...ctx.state.fvp.vms.map((vm) => rawVm(vm, ctx.now(), ctx.state.scenario.vendor).vm),
      ...ctx.state.fvp.proxies.map((p) => rawProxy(p, ctx.state.scenario.vendor).vm),
    ],
  }),

  'Get-VmPolicyStats': (ctx, args) => {
    const vm = ctx.state.fvp.vms.find((v) => v.uuid === args.uuid);
    if (vm === undefined) {
      // Like the module (Read-PrnxDetail): each cmdlet's error as data, not a failed operation. A VM
      // listed a moment ago and deleted since reads so.
      const gone: RawCall = {
        ok: false,
        type: VENDOR_EXCEPTION.prnx,
        message: `Virtual machine with UUID ${quoteName(args.uuid)} was not found`,
      };
      return { requested: gone, effective: gone, stats: gone };
    }
    const { requested, effective, stats } = rawVm(vm, ctx.now(), ctx.state.scenario.vendor, args.startTime ?? null);
    return { requested: requested!, effective: effective!, stats: stats! };
  },

  'Get-ProxyVadp': (ctx, args) => ({
    matches: ctx.state.fvp.proxies.filter((p) => p.name === args.vm).map((p) => rawProxy(p, ctx.state.scenario.vendor)),
  }),

  'Set-ProxyVadp': (ctx, args) => {
    const proxy = findProxy(ctx, args.vm);
    // Set-PrnxProperty -Name cachePolicy -Value 1 blacklists, 3 adds back; anything else is unknown here.
    if (args.property !== 'cachePolicy' || (args.value !== 1 && args.value !== 3)) {
      throw vendorError(
        VENDOR_EXCEPTION.binding,
        `Cannot validate argument: cannot set ${args.property} to ${args.value} on ${quoteName(args.vm)}`,
      );
    }
    const blacklisted = args.value === 1;
    if (blacklisted !== (proxy.vadpSince !== null)) {
      proxy.vadpSince = blacklisted ? ctx.now() : null;
      ctx.touch();
    }
    return { vm: proxy.name, sent: true };
  },

  'Get-VeeamServer': (ctx) => ({
    modules: [
      {
        '@type': 'System.Management.Automation.PSModuleInfo',
        Name: 'Veeam.Backup.PowerShell',
        Version: ctx.state.scenario.vendor.veeam === '13' ? '13.0.1.1071' : '12.3.1.1139',
      },
    ],
  }),

  'Get-BackupJob': (ctx, args) => {
    const job = findJob(ctx, args.job);
    const now = ctx.now();
    // IsRunning is the job's own flag: it counts sessions that lookups do not show yet.
    return rawJob(
      job,
      ctx.state.veeam.sessions.some((s) => s.jobId === job.id && isLive(s, now)),
    );
  },

  'Get-ViEntities': (ctx, args) => ({
    entities: viEntities(
      ctx.state.veeam.jobs,
      ctx.state.fvp.vms.map((vm) => ({ name: vm.name, moref: vm.moref ?? vmMoref(vm.name) })),
      args.view,
    ),
  }),

  'Start-BackupJob': (ctx, args) => {
    const job = findJob(ctx, args.job);
    const now = ctx.now();
    lookupSessions(ctx, job.id, args.lookup);
    if (args.fence !== undefined) {
      // The fence is what lookups showed the caller: compare with what they show now.
      const newest = findSession(ctx.state.veeam.sessions, job.id, -Infinity, now)?.id ?? null;
      if (newest !== args.fence) {
        throw moduleError(
          'FenceMoved',
          `Job ${quoteName(job.name)}: the newest session is ${newest ?? 'none'}, not the fence ` +
            `${args.fence ?? 'none'}: somebody started the job since; nothing was started`,
        );
      }
    }
    const live = ctx.state.veeam.sessions.find((s) => s.jobId === job.id && isLive(s, now));
    if (live !== undefined) {
      throw moduleError('JobAlreadyRunning', `Job ${quoteName(job.name)} is already running (session ${live.id})`);
    }
    const before = listedSessions(ctx, job.id, args.lookup, now).map((s) => s.id);
    const session = {
      id: ctx.newId(),
      jobId: job.id,
      jobName: job.name,
      vms: [...job.vms],
      createdAt: now,
      startDelayMs: job.startDelayMs,
      taskMs: job.taskMs,
      // Task slots and per-VM tasks as the job had them when the session started (early-release).
      taskSlots: job.taskSlots,
      vmTasks: job.vmTasks === undefined ? undefined : structuredClone(job.vmTasks),
      stopDelayMs: job.stopDelayMs,
      outcome: job.outcome,
      transportMode: job.transportMode,
      proxies: [...job.proxies],
      fullBackup: args.fullBackup,
      retryBackup: args.retryBackup,
      stopRequestedAt: null,
      appearDelayMs: appearDelayOf(ctx, job.name),
      judged: 0,
    };
    pushBounded(ctx.state.veeam.sessions, session, LIMITS.sessions);
    ctx.touch();
    // Like the module: the sessions listed before the start, raw; the worker looks for the new one.
    return { before };
  },

  'Get-BackupSession': (ctx, args) => {
    const now = ctx.now();
    const found = ctx.state.veeam.sessions.filter((s) => s.id === args.sessionId && isVisible(s, now));
    return { matches: found.map((s) => rawSession(sessionDoc(s, now), ctx.state.scenario.vendor)) };
  },

  'Find-BackupSession': (ctx, args) => {
    const job = findJob(ctx, args.job);
    lookupSessions(ctx, job.id, args.lookup);
    const now = ctx.now();
    // $job.FindLastSession() returns the newest one only; the other lookups every session of the job.
    const listed = listedSessions(ctx, job.id, args.lookup, now);
    return { sessions: listed.map((s) => rawSessionObject(sessionDoc(s, now), ctx.state.scenario.vendor)) };
  },

  'Stop-BackupJob': (ctx, args) => {
    const job = findJob(ctx, args.job);
    const now = ctx.now();
    for (const s of ctx.state.veeam.sessions) {
      if (s.jobId === job.id && s.stopRequestedAt === null && isLive(s, now)) {
        s.stopRequestedAt = now;
        ctx.touch();
      }
    }
    return { job: job.name, stopRequested: true };
  },
};

/**
 * The cmdlet calls an operation makes on the FVP management server: every read by name lists all
 * VMs (Get-PrnxVM) and then calls per match; the round's listing and the per-VM reads of issue 12.
 */
function serverCalls(ctx: OpContext, op: OperationName, args: unknown): ServerCall[] {
  const listed = ctx.state.fvp.vms.length + ctx.state.fvp.proxies.length;
  const listing: ServerCall = { kind: 'listing', listed };
  const call: ServerCall = { kind: 'call' };
  const named = (args as { vm?: string }).vm;
  const matches = ctx.state.fvp.vms.filter((v) => v.name === named).length;
  switch (op) {
    case 'Get-VmCachePolicy':
    case 'Get-ProxyVadp':
      return [listing, ...Array<ServerCall>(2 * matches).fill(call)];
    case 'Get-VmFlushState':
      return [listing, ...Array<ServerCall>(3 * matches).fill(call)];
    case 'Get-FvpVms':
      return [listing];
    case 'Get-VmPolicyStats':
      return [call, call, call];
    default:
      return [call];
  }
}

function isOperation(op: string): op is OperationName {
  return Object.prototype.hasOwnProperty.call(operations, op);
}

/** Runs one operation as our PowerShell module would and returns the envelope it prints. */
export async function runOp(ctx: OpContext, op: string, rawArgs: unknown): Promise<WireEnvelope> {
  try {
    const result = await dispatch(ctx, op, rawArgs);
    return { ok: true, op, result };
  } catch (error) {
    if (error instanceof OpError) return { ok: false, op, error: error.raw };
    throw error;
  }
}

async function dispatch(ctx: OpContext, op: string, rawArgs: unknown): Promise<unknown> {
  const { endpoint, pid } = ctx.call;
  if (!isOperation(op)) {
    throw moduleError('CommandNotFound', `Invoke-Op: ${quoteName(op)} is not an operation of FvpBackup`);
  }
  const spec = operations[op];
  if (spec.endpoint !== 'any' && spec.endpoint !== endpoint) {
    throw moduleError(
      'CommandNotFound',
      `The term ${quoteName(op)} is not recognized on the ${endpoint} host (it needs the ${spec.endpoint} module)`,
    );
  }
  const parsed = spec.args.safeParse(rawArgs);
  if (!parsed.success) throw moduleError('InvalidArgument', `Invalid argument: ${describeIssues(parsed.error.issues)}`);
  if (op !== 'Get-Doctor') {
    if (op !== 'Connect-Endpoint' && ctx.state.requireConnect) {
      const connected = ctx.state.connections.some((c) => c.endpoint === endpoint && c.pid === pid);
      if (!connected) {
        throw moduleError('NotConnected', `Not connected to the ${endpoint} server: call Connect-Endpoint first`);
      }
    }
    const down = serverDown(endpoint, ctx.state);
    if (down !== null) throw down;
  }
  if (endpoint === 'fvp') await charge(ctx.state, serverCalls(ctx, op, parsed.data), (ms) => ctx.sleep(ms));
  const handler = handlers[op] as Handler<OperationName>;
  const result = await handler(ctx, parsed.data as never);
  const checked = spec.result.safeParse(result);
  if (!checked.success) {
    throw new Error(
      `lab bug: ${op} produced a result that does not match its schema: ${describeIssues(checked.error.issues)}`,
    );
  }
  return checked.data;
}
