/**
 * Configuration of one PowerShell endpoint (the FVP host or the Veeam host). The worker's
 * configuration embeds `PowerShellConfig` (or `EndpointConfig` per endpoint); parse it with zod and
 * hand the result to `createPowerShellClients`.
 */
import { z } from 'zod';

const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

/**
 * Where the endpoint's credentials come from. They are read when a session starts (so a rotated
 * secret file is picked up by the next session), handed to PowerShell in its environment, and
 * never logged or put into error messages.
 * - `env`: the worker's environment variables named `userVar` and `passwordVar`.
 * - `file`: a secret file, either JSON `{"user": "...", "password": "..."}` or two lines (user,
 *   then password; nothing is trimmed but the line breaks).
 * Without `credentials` the vendor cmdlets connect as the account PowerShell runs as.
 */
export const CredentialSource = z.discriminatedUnion('source', [
  z.object({ source: z.literal('env'), userVar: envVarName, passwordVar: envVarName }).strict(),
  z.object({ source: z.literal('file'), path: z.string().min(1) }).strict(),
]);
export type CredentialSource = z.infer<typeof CredentialSource>;

export const EndpointConfig = z
  .object({
    /** 'powershell' (Windows PowerShell 5.1), 'pwsh' (PowerShell 7) or a path to an executable. */
    executable: z.string().min(1),
    /**
     * Run the module on this computer through PowerShell remoting (WinRM): the local process opens a
     * PSSession with the same credentials, loads FvpBackup.psm1 into it, connects there, and proxies
     * every Invoke-Op (see "Remoting" at the top of FvpBackup.psm1).
     */
    remoteComputer: z.string().min(1).optional(),
    /** The remoting endpoint on `remoteComputer` (e.g. 'PowerShell.7' for Veeam v13); default: the computer's default. */
    remoteConfigurationName: z.string().min(1).optional(),
    /** FVP management server or Veeam Backup & Replication server. */
    server: z.string().min(1),
    /** Veeam only (Connect-VBRServer -Port); its documented default changed between releases (9392, 443). */
    port: z.number().int().min(1).max(65535).optional(),
    credentials: CredentialSource.optional(),
    /** One invocation's limit; on expiry the process is killed and the call fails as `timeout` (retryable). */
    invocationTimeoutMs: z.number().int().positive().default(120_000),
    /** Limit for starting a session: process start, module import and Connect-Endpoint. */
    startupTimeoutMs: z.number().int().positive().default(180_000),
    /** Long-lived PowerShell processes kept for this endpoint (created lazily, reused). */
    poolSize: z.number().int().min(1).max(32).default(1),
    /** A session idle for longer than this is closed instead of reused (server-side sessions expire). */
    maxIdleMs: z
      .number()
      .int()
      .positive()
      .default(15 * 60_000),
    /**
     * A session connected longer ago than this is closed instead of reused, however busy it is:
     * vendor server sessions and tokens expire, and a server restart can leave a process "connected"
     * to nothing without an error that says so.
     */
    maxSessionAgeMs: z
      .number()
      .int()
      .positive()
      .default(30 * 60_000),
    /** `-ExecutionPolicy` for the process (the module is an unsigned local file); null: do not pass one. */
    executionPolicy: z.string().min(1).nullable().default('Bypass'),
    /** FvpBackup.psm1 to import (an admin's adapted copy); default: the one shipped next to the TypeScript. */
    modulePath: z.string().min(1).optional(),
    /** Extra environment for the child process (the lab URL goes here in tests). */
    env: z.record(z.string(), z.string()).optional(),
  })
  .strict();
export type EndpointConfig = z.infer<typeof EndpointConfig>;
export type EndpointConfigInput = z.input<typeof EndpointConfig>;

export const PowerShellConfig = z.object({ fvp: EndpointConfig, veeam: EndpointConfig }).strict();
export type PowerShellConfig = z.infer<typeof PowerShellConfig>;
export type PowerShellConfigInput = z.input<typeof PowerShellConfig>;
