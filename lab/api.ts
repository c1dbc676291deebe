/**
 * The lab's HTTP API shapes, shared by the server and `LabClient`. Request bodies are zod schemas
 * (the server answers 400 naming the field when one does not parse); responses are plain types.
 * Every time in these views is epoch milliseconds (the Veeam session documents inside use ISO
 * strings, as the PowerShell module prints them).
 */
import { z } from 'zod';
import type { ErrorCategory } from '../activities/powershell/operations';
import type { BackupSession } from '../domain/veeam';
import type { CacheMode, RequestedPolicy } from '../domain/policy';
import type { EndpointName } from '../domain/endpoint';
import { RequestedPolicy as RequestedPolicySchema, VmName } from '../domain/policy';
import type { FaultAction, FaultRule } from './model/faults';
import type { WriteThroughWindow } from './model/fvp';
import type { PolicyEvent, Verdict } from './model/state';
import type { JobOutcome, TransportMode } from './scenario';

export type { Verdict, WriteThroughWindow, PolicyEvent };

export const ServerUpBody = z.object({ up: z.boolean() }).strict();
export const VmPolicyBody = z.object({ requested: RequestedPolicySchema }).strict();
/** A VM leaves FVP: `fvp`, FVP no longer knows it (deleted); `cluster`, removed from its FVP cluster. */
export const VmRemoveBody = z.object({ from: z.enum(['fvp', 'cluster']) }).strict();
/** The VM is renamed in vCenter to `to`; `uuid` picks one of same-name VMs of two flash clusters. */
export const VmRenameBody = z.object({ to: VmName, uuid: z.string().min(1).optional() }).strict();

export const InvocationsQuery = z
  .object({
    /** Only records with seq >= sinceSeq. */
    sinceSeq: z.coerce.number().int().min(0).optional(),
    op: z.string().optional(),
    endpoint: z.enum(['fvp', 'veeam']).optional(),
  })
  .strict();
export interface InvocationsQuery {
  sinceSeq?: number;
  op?: string;
  endpoint?: EndpointName;
}

export const VerdictsQuery = z
  .object({ job: z.string().optional(), vm: z.string().optional(), sessionId: z.string().optional() })
  .strict();
export type VerdictsQuery = z.input<typeof VerdictsQuery>;

/** One /ps/invoke call as the lab received it (credential values are never kept). */
export interface InvocationRecord {
  seq: number;
  at: number;
  endpoint: EndpointName;
  pid: number;
  op: string;
  /** The decoded arguments exactly as the host sent them. */
  args: unknown;
  credentialSupplied: boolean;
  /** What the host was told to do; `pending` while the op is still running (e.g. a -WaitTimeSeconds wait). */
  response: 'pending' | 'ok' | 'error' | 'die' | 'hang' | 'garbage' | 'stderr';
  /** The fault rule's action when one applied. */
  fault: FaultAction | null;
  /** The error in the envelope, when the answer was an error envelope. */
  error: { type: string; category: ErrorCategory } | null;
}

export interface InvocationsView {
  invocations: InvocationRecord[];
  /** seq the next invocation will get: pass it as sinceSeq to read only newer ones. */
  nextSeq: number;
}

export interface VmView {
  name: string;
  uuid: string;
  accelerated: boolean;
  hostHasFlash: boolean;
  requested: RequestedPolicy;
  effective: CacheMode;
  timeToDestageSeconds: number;
  unflushedWrites: number;
  writeIntervalMs: number;
  destageMs: number;
}

export interface SessionView extends BackupSession {
  createdAt: number;
  /** When the session is (or will be) Stopped. */
  endsAt: number;
  stopRequestedAt: number | null;
  fullBackup: boolean;
  retryBackup: boolean;
  /** Snapshot time of each task (null: never snapshotted because the job was stopped first). */
  snapshots: { vm: string; at: number | null }[];
}

export interface JobView {
  id: string;
  name: string;
  vms: string[];
  isRunning: boolean;
  sessionCount: number;
  outcome: JobOutcome;
  transportMode: TransportMode;
  proxies: string[];
}

export interface FaultsView {
  seed: number;
  rules: { rule: FaultRule; applied: number; remaining: number | null }[];
}

export interface LabStateView {
  simulator: true;
  now: number;
  loadedAt: number;
  requireConnect: boolean;
  fvp: {
    server: string;
    managementServerUp: boolean;
    faultDomains: boolean;
    waitTimeCapMs: number;
    vms: VmView[];
    proxies: { name: string; uuid: string; vadp: boolean; vadpSince: number | null }[];
  };
  veeam: {
    server: string;
    serverUp: boolean;
    jobs: JobView[];
    sessions: SessionView[];
    /** Session lookups by kind, rows read, and full scans of the history (lab/model/state.ts). */
    lookups: { calls: Record<string, number>; rowsRead: number; fullScans: number };
  };
  credentials: { fvp: { user: string } | null; veeam: { user: string } | null };
  connections: { endpoint: EndpointName; pid: number; server: string; port: number | null; at: number }[];
  faults: FaultsView;
  counts: {
    /** Invocations since the scenario was loaded (the log itself keeps the last 10k). */
    invocations: number;
    invocationsByOp: Record<string, number>;
    /** Distinct host process ids seen per endpoint (how many PowerShell processes were started). */
    hostProcesses: { fvp: number; veeam: number };
    sessionsByJob: Record<string, number>;
    verdicts: number;
    inconsistentVerdicts: number;
  };
}

export interface VmTimeline {
  vm: string;
  events: PolicyEvent[];
  writeThroughWindows: WriteThroughWindow[];
}
