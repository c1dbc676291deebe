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
 * The only variables of the worker's own environment a PowerShell process inherits: what PowerShell
 * and .NET need to start, find modules, write temporary files and format text (Windows and Linux
 * names; matched case-insensitively because Windows spells them `Path`, `SystemRoot`...).
 *
 * Why an allow-list and not "everything minus what we know is secret": the worker's environment
 * holds TEMPORAL_API_KEY and the TLS key paths, both endpoints' credential source variables, and
 * whatever a service manager or container adds. The vendor modules (and anything they spawn) run
 * with the endpoint's account and must see none of it. A variable a site really needs goes in the
 * endpoint's `env` (EndpointConfig), where it is explicit.
 */
export const INHERITED_ENV: readonly string[] = [
  // Windows: where the system, the user profile, programs and modules are.
  'SystemRoot',
  'SystemDrive',
  'windir',
  'ComSpec',
  'PATH',
  'PATHEXT',
  'PSModulePath',
  'TEMP',
  'TMP',
  'USERPROFILE',
  'USERNAME',
  'USERDOMAIN',
  'HOMEDRIVE',
  'HOMEPATH',
  'APPDATA',
  'LOCALAPPDATA',
  'ALLUSERSPROFILE',
  'PUBLIC',
  'ProgramData',
  'ProgramFiles',
  'ProgramFiles(x86)',
  'ProgramW6432',
  'CommonProgramFiles',
  'CommonProgramFiles(x86)',
  'CommonProgramW6432',
  'COMPUTERNAME',
  'OS',
  'PROCESSOR_ARCHITECTURE',
  'NUMBER_OF_PROCESSORS',
  // Unix (pwsh on Linux, and the lab's fake host): home, temp, locale, time zone, XDG module paths.
  'HOME',
  'USER',
  'LOGNAME',
  'TMPDIR',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TERM',
  'XDG_CONFIG_HOME',
  'XDG_DATA_HOME',
  'XDG_CACHE_HOME',
  // PowerShell's own switches (telemetry and update check off on servers).
  'POWERSHELL_TELEMETRY_OPTOUT',
  'POWERSHELL_UPDATECHECK',
];
/** Locale categories (LC_ALL, LC_CTYPE, ...). */
const INHERITED_PREFIXES: readonly string[] = ['LC_'];
/** Never passed, not even through the endpoint's explicit `env`: the worker's Temporal settings. */
const NEVER_PASSED = /^TEMPORAL_/i;

const inherited = new Set(INHERITED_ENV.map((name) => name.toUpperCase()));

export function isInherited(name: string): boolean {
  const upper = name.toUpperCase();
  return inherited.has(upper) || INHERITED_PREFIXES.some((prefix) => upper.startsWith(prefix));
}

/**
 * The child's environment: the allow-listed part of the worker's (`INHERITED_ENV`), plus
 * `config.env`, minus every credential source variable (`scrub`, so the Veeam process never sees
 * the FVP password) and anything TEMPORAL_*, plus this endpoint's data.
 */
export function childEnvironment(
  endpoint: EndpointName,
  config: EndpointConfig,
  credential: Credential | null,
  scrub: readonly string[] = [],
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(base)) if (value !== undefined && isInherited(name)) env[name] = value;
  Object.assign(env, config.env);
  const remove = new Set([...scrub, ...Object.values(HOST_ENV)].map((name) => name.toUpperCase()));
  if (config.credentials?.source === 'env') {
    remove.add(config.credentials.userVar.toUpperCase());
    remove.add(config.credentials.passwordVar.toUpperCase());
  }
  for (const name of Object.keys(env)) if (remove.has(name.toUpperCase()) || NEVER_PASSED.test(name)) delete env[name];
  env[HOST_ENV.endpoint] = endpoint;
  if (config.remoteComputer) env[HOST_ENV.remoteComputer] = config.remoteComputer;
  if (config.remoteConfigurationName) env[HOST_ENV.remoteConfiguration] = config.remoteConfigurationName;
  if (credential) {
    env[HOST_ENV.credentialUser] = credential.user;
    env[HOST_ENV.credentialPassword] = credential.password;
  }
  return env;
}
