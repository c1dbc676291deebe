/**
 * Environment variables through which a session hands data (never code) to its PowerShell
 * process. FvpBackup.psm1 reads the same names; the credential and endpoint names are the ones
 * lab/protocol.ts documents for the fake host (CREDENTIAL_ENV, FAKE_HOST_ENV.endpoint), kept here
 * so production code does not import the lab (test/powershell/contract.test.ts checks they agree).
 */
import type { Credential } from './credentials';
import type { EndpointConfig } from './config';
import type { EndpointName } from '../../domain/endpoint';

export const HOST_ENV = {
  /** 'fvp' or 'veeam': which vendor module Connect-Endpoint imports. */
  endpoint: 'FVPB_ENDPOINT',
  /** Read by Connect-Endpoint, then removed from the PowerShell process's environment. */
  credentialUser: 'FVPB_CRED_USER',
  credentialPassword: 'FVPB_CRED_PASSWORD',
  /** When set, Connect-Endpoint opens a PSSession to this computer and runs every operation there. */
  remoteComputer: 'FVPB_REMOTE_COMPUTER',
  remoteConfiguration: 'FVPB_REMOTE_CONFIGURATION',
} as const;

/**
 * The child's environment: the worker's, plus `config.env`, minus every credential source variable
 * (`scrub`, so the Veeam process never sees the FVP password), plus this endpoint's data.
 */
export function childEnvironment(
  endpoint: EndpointName,
  config: EndpointConfig,
  credential: Credential | null,
  scrub: readonly string[] = [],
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, ...config.env };
  const remove: string[] = [...scrub, ...Object.values(HOST_ENV)];
  if (config.credentials?.source === 'env') remove.push(config.credentials.userVar, config.credentials.passwordVar);
  for (const name of remove) delete env[name];
  env[HOST_ENV.endpoint] = endpoint;
  if (config.remoteComputer) env[HOST_ENV.remoteComputer] = config.remoteComputer;
  if (config.remoteConfigurationName) env[HOST_ENV.remoteConfiguration] = config.remoteConfigurationName;
  if (credential) {
    env[HOST_ENV.credentialUser] = credential.user;
    env[HOST_ENV.credentialPassword] = credential.password;
  }
  return env;
}
