/**
 * How the client library, the CLI and the demo reach Temporal: the SDK's own convention
 * (`@temporalio/envconfig`): a TOML profile file (`TEMPORAL_CONFIG_FILE`, or
 * ~/.config/temporalio/temporal.toml) overridden by the environment (`TEMPORAL_ADDRESS`,
 * `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS`, `TEMPORAL_TLS_CLIENT_CERT_PATH`,
 * `TEMPORAL_TLS_CLIENT_KEY_PATH`, `TEMPORAL_TLS_SERVER_CA_CERT_PATH`, `TEMPORAL_TLS_SERVER_NAME`,
 * `TEMPORAL_PROFILE`, ...), overridden in turn by what the caller passes explicitly.
 * TLS, mTLS and API keys all come through that one path; an API key turns TLS on.
 * The task queue is ours, not the SDK's: `TEMPORAL_TASK_QUEUE`, else the worker's default.
 */
import { hostname, userInfo } from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { DEFAULT_TASK_QUEUE } from '../domain/task-queue';
import { ConnectionConfigError, ConnectionError } from './errors';

export interface ConnectOptions {
  /** host:port; overrides the profile and TEMPORAL_ADDRESS. */
  address?: string;
  namespace?: string;
  /** Profile name in the config file (default: TEMPORAL_PROFILE, else "default"). */
  profile?: string;
  /** A TOML config file instead of TEMPORAL_CONFIG_FILE / the default location. */
  configFile?: string;
  /** Task queue the worker polls (default: TEMPORAL_TASK_QUEUE, else fvp-protected-backup). */
  taskQueue?: string;
  /** The environment to read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * Who this client is, as the history records it on every start, signal, cancel and terminate
   * (default `operatorIdentity('fvpb-client')`: `<user>@<host> fvpb-client`).
   */
  identity?: string;
}

/** The user, from the account database, else the environment (a container may have no passwd entry). */
function userName(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? env.USERNAME ?? 'unknown';
  }
}

/**
 * `<user>@<host> <program>`: who acts and from where, as the Web UI shows it on the run's start,
 * cancel and terminate events (the SDK's default is `<pid>@<host>`, which names nobody).
 */
export function operatorIdentity(program: string, env: NodeJS.ProcessEnv = process.env): string {
  return `${userName(env)}@${hostname()} ${program}`;
}

export interface BackupConnection {
  client: Client;
  connection: Connection;
  namespace: string;
  taskQueue: string;
  /** The identity the history records for what this client does. */
  identity: string;
  /** Where it connected (for messages; never contains a credential). */
  address: string;
  close(): Promise<void>;
}

function definedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

/** The connection options the SDK convention yields, with explicit overrides applied. */
export function resolveConnectConfig(options: ConnectOptions = {}) {
  const env = options.env ?? process.env;
  let loaded;
  try {
    loaded = loadClientConnectConfig({
      profile: options.profile,
      configSource: options.configFile ? { path: options.configFile } : undefined,
      overrideEnvVars: definedEnv(env),
    });
  } catch (err) {
    // The SDK's messages name the profile or the key; they never echo a secret.
    throw new ConnectionConfigError(`cannot load the Temporal client configuration: ${(err as Error).message}`);
  }
  const connectionOptions = { ...loaded.connectionOptions };
  if (options.address) connectionOptions.address = options.address;
  return {
    connectionOptions,
    namespace: options.namespace ?? loaded.namespace ?? 'default',
    taskQueue: options.taskQueue ?? env.TEMPORAL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
  };
}

export async function connect(options: ConnectOptions = {}): Promise<BackupConnection> {
  const { connectionOptions, namespace, taskQueue } = resolveConnectConfig(options);
  const address = connectionOptions.address ?? 'localhost:7233';
  let connection: Connection;
  try {
    connection = await Connection.connect({
      address,
      tls: connectionOptions.tls,
      apiKey: connectionOptions.apiKey,
      metadata: connectionOptions.metadata,
      connectTimeout: '10 seconds',
    });
  } catch (err) {
    throw new ConnectionError(`cannot reach Temporal at ${address}: ${(err as Error).message}`);
  }
  const identity = options.identity ?? operatorIdentity('fvpb-client', options.env);
  const client = new Client({ connection, namespace, identity });
  return { client, connection, namespace, taskQueue, identity, address, close: () => connection.close() };
}
