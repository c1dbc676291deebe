/**
 * The simulated PowerShell module: one handler per operation of operations.ts, each returning the
 * document the real function prints (validated against `operations[op].result`) or throwing an
 * OpError that becomes an error envelope.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  ConnectArgs,
  operations,
  type Envelope,
  type OperationName,
  type SessionLookup,
  type OperationResult,
} from '../activities/powershell/operations';
import { type EndpointName } from '../domain/endpoint';
import { samePolicy, type RequestedPolicy } from '../domain/policy';
import type { InvokeRequest } from './protocol';
import { doctorObservations, doctorReport } from './doctor';
import { OpError, describeIssues, permanent, quoteName, transient } from './model/errors';
import { WRITE_THROUGH_POLICY, currentRequested, policyDoc, setRequested, timeToDestageMs } from './model/fvp';
import { LIMITS, pushBounded, type CredentialHash, type LabState, type VmState } from './model/state';
import { findSession, isLive, isVisible, sessionDoc } from './model/veeam';
import { rawProxy, rawServer, rawVm } from './model/raw';
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

function findVm(ctx: OpContext, name: string): VmState {
  const vm = ctx.state.fvp.vms.find((v) => v.name === name);
  if (vm === undefined) throw permanent('VmNotFound', `VM ${quoteName(name)} was not found in the FVP cluster`);
  return vm;
}

/** Every VM named exactly `name` (Get-PrnxVM filtered by the module: none, one, or several). */
function matching(ctx: OpContext, name: string): VmState[] {
  return ctx.state.fvp.vms.filter((v) => v.name === name);
}

function acceleratedVm(ctx: OpContext, name: string): VmState {
  const vm = findVm(ctx, name);
  if (!vm.accelerated) {
    throw permanent('VmNotAccelerated', `VM ${quoteName(name)} is not accelerated by FVP: no policy to set`);
  }
  return vm;
}

/**
 * A conditional write's precondition, as the module checks it: the VM's current requested policy
 * must be the one the caller expects to replace, or nothing is written.
 */
function refuseUnlessExpected(vm: VmState, expected: RequestedPolicy | undefined): void {
  if (expected === undefined) return;
  const current = currentRequested(vm);
  if (samePolicy(current, expected)) return;
  throw new OpError(
    'PolicyChanged',
    `VM ${quoteName(vm.name)} has requested policy ${JSON.stringify(current)}, not the expected ` +
      `${JSON.stringify(expected)}: someone else changed it; nothing was changed`,
    'policy-changed',
  );
}

function findJob(ctx: OpContext, name: string) {
  const job = ctx.state.veeam.jobs.find((j) => j.name === name);
  if (job === undefined) throw permanent('JobNotFound', `Veeam job ${quoteName(name)} was not found`);
  return job;
}

function findProxy(ctx: OpContext, name: string) {
  const proxy = ctx.state.fvp.proxies.find((p) => p.name === name);
  if (proxy === undefined) throw permanent('VmNotFound', `proxy VM ${quoteName(name)} was not found`);
  return proxy;
}

function serverDown(endpoint: EndpointName, state: LabState): OpError | null {
  if (endpoint === 'fvp' && !state.fvp.managementServerUp) {
    return transient(
      'ManagementServerUnreachable',
      `Could not connect to FVP Management Server ${quoteName(state.fvp.server)}`,
    );
  }
  if (endpoint === 'veeam' && !state.veeam.serverUp) {
    return transient(
      'VeeamServerUnreachable',
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
    throw permanent(
      'ParameterBindingException',
      "A parameter cannot be found that matches parameter name 'Job'. (Get-VBRBackupSession, Veeam 12)",
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
        throw permanent(
          'AuthenticationFailed',
          `authentication failed: no credentials supplied for ${quoteName(args.server)}`,
        );
      }
      if (!credentialMatches(expected, credential.user, credential.password)) {
        throw permanent(
          'AuthenticationFailed',
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

  'Get-Doctor': (ctx) => {
    const endpoint = ctx.call.endpoint;
    return doctorReport(
      endpoint,
      serverDown(endpoint, ctx.state) === null,
      doctorObservations(endpoint, ctx.state, ctx.now()),
    );
  },

  'Get-VmCachePolicy': (ctx, args) => ({
    matches: matching(ctx, args.vm).map((vm) => rawVm(vm, ctx.now(), ctx.state.scenario.vendor)),
  }),

  'Get-FvpServer': (ctx) => ({ servers: [rawServer(ctx.state.scenario.vendor)] }),

  'Set-VmWriteThrough': async (ctx, args) => {
    const vm = acceleratedVm(ctx, args.vm);
    const at = ctx.now();
    // Already write-through (a retry after a lost answer): nothing to write, nothing to refuse.
    if (samePolicy(currentRequested(vm), WRITE_THROUGH_POLICY)) return policyDoc(vm, at);
    refuseUnlessExpected(vm, args.expected);
    if (setRequested(vm, at, WRITE_THROUGH_POLICY, 'Set-VmWriteThrough', ctx.call.pid)) ctx.touch();
    if (args.waitTimeSeconds !== undefined && args.waitTimeSeconds > 0) {
      // -WaitTimeSeconds is undocumented: the lab waits until the flush completes or a small cap,
      // whichever comes first, and returns regardless.
      const wait = Math.min(args.waitTimeSeconds * 1000, ctx.state.fvp.waitTimeCapMs, timeToDestageMs(vm, at));
      if (wait > 0) await ctx.sleep(wait);
    }
    return policyDoc(vm, ctx.now());
  },

  'Restore-VmCachePolicy': (ctx, args) => {
    const vm = acceleratedVm(ctx, args.vm);
    // Already in place (a retry after a lost answer): nothing to write, nothing to refuse.
    if (samePolicy(currentRequested(vm), args.policy)) return policyDoc(vm, ctx.now());
    refuseUnlessExpected(vm, args.expected);
    if (args.policy.externalPeers !== null && !ctx.state.fvp.faultDomains) {
      throw permanent(
        'FaultDomainsNotConfigured',
        `Cannot set ${args.policy.externalPeers} external write-back peers on VM ${quoteName(args.vm)}: ` +
          'the cluster has no fault domains',
      );
    }
    // On a host without flash FVP records the requested policy; the effective one stays write-through.
    if (setRequested(vm, ctx.now(), args.policy, 'Restore-VmCachePolicy', ctx.call.pid)) ctx.touch();
    return policyDoc(vm, ctx.now());
  },

  'Get-VmFlushState': (ctx, args) => ({
    matches: matching(ctx, args.vm).map((vm) =>
      rawVm(vm, ctx.now(), ctx.state.scenario.vendor, args.startTime ?? null),
    ),
  }),

  'Get-ProxyVadp': (ctx, args) => ({
    matches: ctx.state.fvp.proxies.filter((p) => p.name === args.vm).map((p) => rawProxy(p, ctx.state.scenario.vendor)),
  }),

  'Set-ProxyVadp': (ctx, args) => {
    const proxy = findProxy(ctx, args.vm);
    // Set-PrnxProperty -Name cachePolicy -Value 1 blacklists, 3 adds back; anything else is unknown here.
    if (args.property !== 'cachePolicy' || (args.value !== 1 && args.value !== 3)) {
      throw permanent(
        'ParameterBindingException',
        `Set-PrnxProperty: cannot set ${args.property} to ${args.value} on ${quoteName(args.vm)}`,
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
    const isRunning = ctx.state.veeam.sessions.some((s) => s.jobId === job.id && isLive(s, now));
    return { id: job.id, name: job.name, vms: [...job.vms], isRunning };
  },

  'Start-BackupJob': async (ctx, args) => {
    const job = findJob(ctx, args.job);
    const now = ctx.now();
    lookupSessions(ctx, job.id, args.lookup);
    if (args.fence !== undefined) {
      // The fence is what lookups showed the caller: compare with what they show now.
      const newest = findSession(ctx.state.veeam.sessions, job.id, -Infinity, now)?.id ?? null;
      if (newest !== args.fence) {
        throw new OpError(
          'FenceMoved',
          `Job ${quoteName(job.name)}: the newest session is ${newest ?? 'none'}, not the fence ` +
            `${args.fence ?? 'none'}: somebody started the job since; nothing was started`,
          'fence-moved',
        );
      }
    }
    // IsRunning is the job's own flag: it counts sessions that lookups do not show yet.
    const live = ctx.state.veeam.sessions.find((s) => s.jobId === job.id && isLive(s, now));
    if (live !== undefined) {
      throw new OpError(
        'JobAlreadyRunning',
        `Job ${quoteName(job.name)} is already running (session ${live.id})`,
        'already-running',
      );
    }
    const session = {
      id: ctx.newId(),
      jobId: job.id,
      jobName: job.name,
      vms: [...job.vms],
      createdAt: now,
      startDelayMs: job.startDelayMs,
      taskMs: job.taskMs,
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
    // Like the module: look for the new session until lookups show it, or give up not knowing.
    const waitMs = Math.min(session.appearDelayMs, ctx.state.scenario.veeam.sessionAppearWaitMs);
    if (waitMs > 0) await ctx.sleep(waitMs);
    if (!isVisible(session, ctx.now())) {
      throw new OpError(
        'SessionNotFound',
        `Veeam job ${quoteName(job.name)} was started but its session did not appear within ${waitMs} ms`,
        'start-unknown',
      );
    }
    return sessionDoc(session, ctx.now());
  },

  'Get-BackupSession': (ctx, args) => {
    const now = ctx.now();
    const session = ctx.state.veeam.sessions.find((s) => s.id === args.sessionId && isVisible(s, now));
    if (session === undefined)
      throw permanent('SessionNotFound', `Backup session ${quoteName(args.sessionId)} was not found`);
    return sessionDoc(session, ctx.now());
  },

  'Find-BackupSession': (ctx, args) => {
    const job = findJob(ctx, args.job);
    lookupSessions(ctx, job.id, args.lookup);
    const since = Date.parse(args.since);
    if (Number.isNaN(since))
      throw permanent('InvalidArgument', `Invalid argument 'since': not a date: ${quoteName(args.since)}`);
    const session = findSession(ctx.state.veeam.sessions, job.id, since, ctx.now());
    return { session: session === null ? null : sessionDoc(session, ctx.now()) };
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

function isOperation(op: string): op is OperationName {
  return Object.prototype.hasOwnProperty.call(operations, op);
}

/** Runs one operation as our PowerShell module would and returns the envelope it prints. */
export async function runOp(ctx: OpContext, op: string, rawArgs: unknown): Promise<Envelope> {
  try {
    const result = await dispatch(ctx, op, rawArgs);
    return { ok: true, op, result };
  } catch (error) {
    if (error instanceof OpError) {
      return { ok: false, op, error: { type: error.type, message: error.message, category: error.category } };
    }
    throw error;
  }
}

async function dispatch(ctx: OpContext, op: string, rawArgs: unknown): Promise<unknown> {
  const { endpoint, pid } = ctx.call;
  if (!isOperation(op)) {
    throw permanent(
      'CommandNotFound',
      `The term ${quoteName(op)} is not recognized as the name of a cmdlet, function, script file, or operable program`,
    );
  }
  const spec = operations[op];
  if (spec.endpoint !== 'any' && spec.endpoint !== endpoint) {
    throw permanent(
      'CommandNotFound',
      `The term ${quoteName(op)} is not recognized on the ${endpoint} host (it needs the ${spec.endpoint} module)`,
    );
  }
  const parsed = spec.args.safeParse(rawArgs);
  if (!parsed.success) throw permanent('InvalidArgument', `Invalid argument: ${describeIssues(parsed.error.issues)}`);
  if (op !== 'Get-Doctor') {
    if (op !== 'Connect-Endpoint' && ctx.state.requireConnect) {
      const connected = ctx.state.connections.some((c) => c.endpoint === endpoint && c.pid === pid);
      if (!connected) {
        throw new OpError(
          'NotConnected',
          `Not connected to the ${endpoint} server: call Connect-Endpoint first`,
          'not-connected',
        );
      }
    }
    const down = serverDown(endpoint, ctx.state);
    if (down !== null) throw down;
  }
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
