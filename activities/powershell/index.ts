/**
 * The PowerShell boundary: how activities run FvpBackup.psm1 operations on the FVP and Veeam hosts.
 *
 * What activities use (and nothing else):
 *
 *   import { createPowerShellClients, PowerShellError } from './powershell';
 *   const ps = createPowerShellClients({ fvp: fvpConfig, veeam: veeamConfig }, logger);
 *   const policy = await ps.fvp.invoke('Get-VmCachePolicy', { vm: 'sql-01' });   // typed VmPolicy
 *   const { before } = await ps.veeam.invoke('Start-BackupJob', { job, fullBackup: false, retryBackup: false });
 *   await ps.close();                                                            // at shutdown
 *
 * - `pool.invoke(op, args, signal?)`: `op` is a function name of operations.ts, `args` its argument
 *   type (`OperationArgs<op>`); resolves to `OperationResult<op>`, already validated with its zod
 *   schema. `signal` cancels the call: dropped unsent while it waits (`cancelled`), its process
 *   killed once sent (`cancelled-in-flight`). The worker passes each activity's cancellation signal
 *   (activities/invoker.ts, `cancelledWithActivity`).
 * - Every failure is a `PowerShellError` with `op`, `endpoint`, `category`, `retryable`, `errorType`
 *   (the module's type, e.g. 'VmNotFound', 'JobNotFound', or a .NET exception type) and `pid`.
 *   `retryable === false` means the same call cannot succeed by retrying (map it to a non-retryable
 *   ApplicationFailure). `category`:
 *     transient / not-connected / timeout / process-died / cancelled / cancelled-in-flight -> retryable
 *     permanent / already-running / protocol (and the refusals of operations.ts)          -> not retryable
 *   `already-running` is the Veeam job's own session running: the caller waits, never starts again.
 *   `timeout`, `process-died` and `cancelled-in-flight` mean the call may or may not have taken
 *   effect (Start-BackupJob!): re-attach (Find-BackupSession) before starting again. `cancelled`
 *   means it was never sent.
 * - A session is retired (the next call starts a process that connects afresh) after any failure
 *   but a vendor error about the caller's request (keepsSession in errors.ts), and once it is older
 *   than `maxSessionAgeMs`: after a vendor server restart a session is "connected" to nothing.
 * - `PowerShellRequestError` (a PowerShellError, category 'permanent') means the call was refused
 *   before anything was sent: unknown operation, the other endpoint's operation, invalid arguments.
 * - Messages never contain credentials (redacted before they are cut or quoted); logs never contain
 *   arguments, environments or credentials. The PowerShell process inherits only an allow-list of
 *   the worker's environment (INHERITED_ENV in environment.ts): never TEMPORAL_* or the other
 *   endpoint's credentials.
 *
 * Config: `EndpointConfig` / `PowerShellConfig` (config.ts). Wire format: protocol.ts.
 */
export { createPowerShellClients, type PowerShellClients } from './client';
export { PowerShellPool, DEFAULT_MODULE_PATH, type PoolOptions, type PoolStats } from './pool';
export { PowerShellError, PowerShellRequestError, isRetryableCategory, type PowerShellErrorCategory } from './errors';
export {
  CredentialSource,
  EndpointConfig,
  PowerShellConfig,
  type EndpointConfigInput,
  type PowerShellConfigInput,
} from './config';
export type { Logger } from './logger';
export type { OperationArgs, OperationName, OperationResult } from './operations';
export type { EndpointName } from '../../domain/endpoint';
