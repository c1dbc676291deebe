/**
 * The worker's configuration, read from the environment once at start-up and validated with zod.
 * A wrong value stops the worker with a message naming the variable; secrets are referenced by the
 * name of the variable or file that holds them (the Temporal API key excepted), and are never logged.
 *
 *   TEMPORAL_ADDRESS            host:port of the Temporal frontend          (localhost:7233)
 *   TEMPORAL_NAMESPACE          namespace                                    (default)
 *   TEMPORAL_TASK_QUEUE         task queue the workflows and activities use  (fvp-protected-backup)
 *   TEMPORAL_API_KEY            API key (Temporal Cloud); turns TLS on
 *   TEMPORAL_TLS                "true" for TLS with the system roots
 *   TEMPORAL_TLS_SERVER_CA_CERT_PATH / TEMPORAL_TLS_CLIENT_CERT_PATH / TEMPORAL_TLS_CLIENT_KEY_PATH /
 *   TEMPORAL_TLS_SERVER_NAME     TLS and mTLS, named as the SDK's envconfig (and so the CLI client) names them
 *   FVPB_<FVP|VEEAM>_EXECUTABLE  powershell | pwsh | a path                 (powershell / pwsh)
 *   FVPB_<FVP|VEEAM>_SERVER      FVP management server / VBR server         (required)
 *   FVPB_<FVP|VEEAM>_PORT        port for Connect-*                         (vendor default)
 *   FVPB_<FVP|VEEAM>_REMOTE_COMPUTER  run the module there through PowerShell remoting
 *   FVPB_<FVP|VEEAM>_CREDENTIALS "env:USER_VAR:PASSWORD_VAR" or "file:/path/to/secret.json"
 *   FVPB_<FVP|VEEAM>_POOL_SIZE   long-lived PowerShell processes             (2)
 *   FVPB_<FVP|VEEAM>_TIMEOUT_MS  one invocation's limit; the process is killed beyond it (120000; 1000-86400000)
 *   FVPB_LAB_URL                 only with the lab: where the fake PowerShell host forwards
 *   FVPB_MAX_CONCURRENT_ACTIVITIES / FVPB_MAX_CONCURRENT_WORKFLOW_TASKS   (20 / 40)
 *                                workflow task slots are also what the SDK's 10 task-queue polls wait
 *                                in: with 10 slots, the 8 sticky polls held 8 of them, and a job's new
 *                                guards started one or two at a time (bench/SCALE-NOTES.md)
 *   FVPB_MAX_CACHED_WORKFLOWS    runs and guards kept in the worker's memory between their tasks, under
 *                                0.85 MB of heap each; fewer than are active at once means replays (CPU) and, measured,
 *                                a higher peak, not a lower one (the SDK's default, from the heap size: README)
 *   FVPB_METRICS_ADDRESS         Prometheus scrape address, e.g. 0.0.0.0:9464 (off)
 *   FVPB_WORKFLOW_BUNDLE         a pre-built workflow bundle (npm run build:bundle); else bundled at start
 *   FVPB_SHUTDOWN_GRACE          how long running activities may finish on SIGTERM ('10 seconds'; 1 s-1 h)
 *   FVPB_STICKY_QUEUE_TIMEOUT    how soon a dead worker's cached workflows move to another worker ('10 seconds'; 1 s-10 min)
 *   FVPB_GUARD_CHECK_INTERVAL    how often a per-VM guard checks that its holders still run ('1 minute'; 1 s-1 h)
 *   FVPB_GUARD_RESEND_INTERVAL   how long a run waits for its guard's answer before asking again ('1 minute'; 1 s-1 h)
 *   FVPB_GUARD_HISTORY_LIMIT     history events after which a guard continues as new (2000)
 *   FVPB_GUARD_HEARTBEAT, _STEP_TIMEOUT, _RETRY_INITIAL_INTERVAL, _RETRY_MAXIMUM_ATTEMPTS,
 *   _RESTORE_MAX_INTERVAL, _FLUSH_POLL_INTERVAL, _JOB_POLL_INTERVAL   the guards' step timeouts
 *                                (protectedBackup's defaults; see worker/guard-timeouts.ts)
 *   FVPB_NOTIFY_*                notifications by webhook and e-mail: see worker/notify-config.ts (off)
 *   LOG_LEVEL                    trace | debug | info | warn | error        (info)
 */
import type { GuardTimeouts } from '../domain/guard-protocol';
import { guardTimeoutsFromEnv } from './guard-timeouts';
import { z } from 'zod';
import { boundedDuration, type DurationInput, durationMs, HOUR, MINUTE, SECOND } from '../domain/duration';
import { DEFAULT_TASK_QUEUE } from '../domain/task-queue';
import { describeZodError } from '../domain/zod-issues';
import { EndpointConfig } from '../activities/powershell/config';
import type { NotifySettings } from '../activities/notify';
import { loadNotifyConfig, NotifyConfigError } from './notify-config';

const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const positiveInt = z.coerce.number().int().positive();

/**
 * One PowerShell invocation's limit, in milliseconds: a Node timer in the session (activities/powershell),
 * so below 2^31 ms. Connect-* alone takes seconds; no single vendor call should take a day.
 */
const INVOCATION_TIMEOUT_MS = [SECOND, 24 * HOUR] as const;
const invocationTimeoutMs = z.coerce
  .number()
  .int()
  .min(
    INVOCATION_TIMEOUT_MS[0],
    `expected milliseconds between ${INVOCATION_TIMEOUT_MS[0]} and ${INVOCATION_TIMEOUT_MS[1]}`,
  )
  .max(
    INVOCATION_TIMEOUT_MS[1],
    `expected milliseconds between ${INVOCATION_TIMEOUT_MS[0]} and ${INVOCATION_TIMEOUT_MS[1]}`,
  );

/**
 * The worker's durations, each within its range (inclusive):
 * - shutdown grace, 1 s to 1 h: running activities are cancelled after it and retried elsewhere; a
 *   service manager kills the process long before an hour (systemd 90 s, Kubernetes 30 s by default);
 * - sticky queue timeout, 1 s to 10 min: how long a dead worker's cached runs and guards wait before
 *   another worker takes them over;
 * - guard check and resend intervals, 1 s to 1 h: how long a dead holder keeps its VMs in
 *   write-through before its guard notices, and how long a lost request waits to be sent again.
 */
export const WORKER_DURATION_BOUNDS = {
  FVPB_SHUTDOWN_GRACE: [SECOND, HOUR],
  FVPB_STICKY_QUEUE_TIMEOUT: [SECOND, 10 * MINUTE],
  FVPB_GUARD_CHECK_INTERVAL: [SECOND, HOUR],
  FVPB_GUARD_RESEND_INTERVAL: [SECOND, HOUR],
} as const;
function workerDuration(name: keyof typeof WORKER_DURATION_BOUNDS) {
  const [minMs, maxMs] = WORKER_DURATION_BOUNDS[name];
  return boundedDuration(minMs, maxMs);
}

const Credentials = z
  .string()
  .regex(/^(env:[A-Za-z_][A-Za-z0-9_]*:[A-Za-z_][A-Za-z0-9_]*|file:.+)$/, {
    message: 'expected "env:USER_VAR:PASSWORD_VAR" or "file:/path/to/secret"',
  })
  .transform((spec) => {
    const [source, a, b] = spec.split(':');
    return source === 'env'
      ? { source: 'env' as const, userVar: a as string, passwordVar: b as string }
      : { source: 'file' as const, path: spec.slice('file:'.length) };
  });

function endpointEnv(prefix: 'FVP' | 'VEEAM', defaultExecutable: string) {
  const key = (name: string) => `FVPB_${prefix}_${name}`;
  return {
    [key('EXECUTABLE')]: z.string().min(1).default(defaultExecutable),
    [key('SERVER')]: z.string().min(1, 'expected the server to connect to'),
    [key('PORT')]: positiveInt.optional(),
    [key('REMOTE_COMPUTER')]: z.string().min(1).optional(),
    [key('CREDENTIALS')]: Credentials.optional(),
    [key('POOL_SIZE')]: positiveInt.max(32).default(2),
    [key('TIMEOUT_MS')]: invocationTimeoutMs.default(120_000),
  };
}

const Env = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS: flag.optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_CLIENT_KEY_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  ...endpointEnv('FVP', 'powershell'),
  ...endpointEnv('VEEAM', 'pwsh'),
  FVPB_LAB_URL: z.url().optional(),
  FVPB_MAX_CONCURRENT_ACTIVITIES: positiveInt.max(1000).default(20),
  // The SDK's default. Each outstanding poll holds a slot, so the slots left for work are these less 10.
  FVPB_MAX_CONCURRENT_WORKFLOW_TASKS: positiveInt.max(1000).default(40),
  FVPB_MAX_CACHED_WORKFLOWS: positiveInt.min(10).max(100_000).optional(),
  FVPB_METRICS_ADDRESS: z
    .string()
    .regex(/^[^:]+:\d{1,5}$/, { message: 'expected host:port, e.g. 0.0.0.0:9464' })
    .optional(),
  FVPB_WORKFLOW_BUNDLE: z.string().min(1).optional(),
  FVPB_SHUTDOWN_GRACE: workerDuration('FVPB_SHUTDOWN_GRACE').default('10 seconds'),
  FVPB_STICKY_QUEUE_TIMEOUT: workerDuration('FVPB_STICKY_QUEUE_TIMEOUT').default('10 seconds'),
  FVPB_GUARD_CHECK_INTERVAL: workerDuration('FVPB_GUARD_CHECK_INTERVAL').default('1 minute'),
  FVPB_GUARD_RESEND_INTERVAL: workerDuration('FVPB_GUARD_RESEND_INTERVAL').default('1 minute'),
  FVPB_GUARD_HISTORY_LIMIT: z.coerce.number().int().min(100).max(50_000).default(2000),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
});

export interface WorkerConfig {
  temporal: {
    address: string;
    namespace: string;
    taskQueue: string;
    /** Never logged: the config is not printed, and the logger censors `apiKey` fields. */
    apiKey: string | undefined;
    tls: { caPath?: string; certPath?: string; keyPath?: string; serverName?: string } | boolean;
  };
  fvp: EndpointConfig;
  veeam: EndpointConfig;
  maxConcurrentActivities: number;
  maxConcurrentWorkflowTasks: number;
  /** undefined: the SDK's default. */
  maxCachedWorkflows: number | undefined;
  metricsAddress: string | undefined;
  workflowBundle: string | undefined;
  shutdownGrace: DurationInput;
  stickyQueueTimeout: DurationInput;
  /** Timings of the per-VM guard (see workflows/guard/entity.ts), and its step timeouts (worker/guard-timeouts.ts). */
  guard: { holderCheckIntervalMs: number; resendIntervalMs: number; historyLimit: number; timeouts: GuardTimeouts };
  /** Notification channels (secrets held as `Secret`); no channel when none is configured. */
  notify: NotifySettings;
  logLevel: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function guardTimeouts(env: NodeJS.ProcessEnv): GuardTimeouts {
  try {
    return guardTimeoutsFromEnv(env);
  } catch (err) {
    throw new ConfigError(`invalid worker configuration: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  // Only our own variables are parsed, so the message never echoes anything else from the environment.
  const parsed = Env.safeParse(env);
  if (!parsed.success) throw new ConfigError(`invalid worker configuration: ${describeZodError(parsed.error)}`);
  const e = parsed.data as Record<string, unknown> & z.infer<typeof Env>;

  const endpoint = (prefix: 'FVP' | 'VEEAM'): EndpointConfig => {
    const get = (name: string) => e[`FVPB_${prefix}_${name}`];
    const candidate = {
      executable: get('EXECUTABLE'),
      server: get('SERVER'),
      port: get('PORT'),
      remoteComputer: get('REMOTE_COMPUTER'),
      credentials: get('CREDENTIALS'),
      poolSize: get('POOL_SIZE'),
      invocationTimeoutMs: get('TIMEOUT_MS'),
      env: e.FVPB_LAB_URL ? { FVPB_LAB_URL: e.FVPB_LAB_URL } : undefined,
    };
    const result = EndpointConfig.safeParse(candidate);
    if (!result.success) {
      throw new ConfigError(`invalid FVPB_${prefix}_* configuration: ${describeZodError(result.error)}`);
    }
    return result.data;
  };

  const mtls = e.TEMPORAL_TLS_SERVER_CA_CERT_PATH || e.TEMPORAL_TLS_CLIENT_CERT_PATH || e.TEMPORAL_TLS_CLIENT_KEY_PATH;
  if (Boolean(e.TEMPORAL_TLS_CLIENT_CERT_PATH) !== Boolean(e.TEMPORAL_TLS_CLIENT_KEY_PATH)) {
    throw new ConfigError(
      'invalid worker configuration: TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together',
    );
  }
  return {
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      apiKey: e.TEMPORAL_API_KEY,
      tls: mtls
        ? {
            caPath: e.TEMPORAL_TLS_SERVER_CA_CERT_PATH,
            certPath: e.TEMPORAL_TLS_CLIENT_CERT_PATH,
            keyPath: e.TEMPORAL_TLS_CLIENT_KEY_PATH,
            serverName: e.TEMPORAL_TLS_SERVER_NAME,
          }
        : (e.TEMPORAL_TLS ?? Boolean(e.TEMPORAL_API_KEY)),
    },
    fvp: endpoint('FVP'),
    veeam: endpoint('VEEAM'),
    maxConcurrentActivities: e.FVPB_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTasks: e.FVPB_MAX_CONCURRENT_WORKFLOW_TASKS,
    maxCachedWorkflows: e.FVPB_MAX_CACHED_WORKFLOWS,
    metricsAddress: e.FVPB_METRICS_ADDRESS,
    workflowBundle: e.FVPB_WORKFLOW_BUNDLE,
    shutdownGrace: e.FVPB_SHUTDOWN_GRACE,
    stickyQueueTimeout: e.FVPB_STICKY_QUEUE_TIMEOUT,
    guard: {
      holderCheckIntervalMs: durationMs(e.FVPB_GUARD_CHECK_INTERVAL),
      resendIntervalMs: durationMs(e.FVPB_GUARD_RESEND_INTERVAL),
      historyLimit: e.FVPB_GUARD_HISTORY_LIMIT,
      timeouts: guardTimeouts(env),
    },
    notify: notifyConfig(env),
    logLevel: e.LOG_LEVEL,
  };
}

function notifyConfig(env: NodeJS.ProcessEnv): NotifySettings {
  try {
    return loadNotifyConfig(env);
  } catch (err) {
    if (err instanceof NotifyConfigError) throw new ConfigError(err.message);
    throw err;
  }
}
