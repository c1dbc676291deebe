/**
 * The worker's connection to Temporal: plain, TLS, mTLS or API key, from the validated config.
 */
import { readFileSync } from 'node:fs';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { WorkerConfig } from './config';

export function connectionOptions(temporal: WorkerConfig['temporal']): NativeConnectionOptions {
  const { tls } = temporal;
  return {
    address: temporal.address,
    apiKey: temporal.apiKey,
    tls:
      typeof tls === 'boolean'
        ? tls
        : {
            serverNameOverride: tls.serverName,
            serverRootCACertificate: tls.caPath ? readFileSync(tls.caPath) : undefined,
            clientCertPair:
              tls.certPath && tls.keyPath
                ? { crt: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) }
                : undefined,
          },
  };
}

export function connect(temporal: WorkerConfig['temporal']): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(temporal));
}
