/**
 * One pool per endpoint, built from the worker's configuration.
 */
import { PowerShellConfig, type PowerShellConfigInput } from './config';
import type { Logger } from './logger';
import { PowerShellPool } from './pool';

export interface PowerShellClients {
  fvp: PowerShellPool;
  veeam: PowerShellPool;
  /** Closes both pools (their processes exit; busy ones are killed). */
  close(): Promise<void>;
}

export function createPowerShellClients(config: PowerShellConfigInput, logger?: Logger): PowerShellClients {
  const parsed = PowerShellConfig.parse(config);
  // Neither process sees the other endpoint's (or its own) credential source variables.
  const scrubEnv = [parsed.fvp, parsed.veeam].flatMap((c) =>
    c.credentials?.source === 'env' ? [c.credentials.userVar, c.credentials.passwordVar] : [],
  );
  const fvp = new PowerShellPool({ endpoint: 'fvp', config: parsed.fvp, logger, scrubEnv });
  const veeam = new PowerShellPool({ endpoint: 'veeam', config: parsed.veeam, logger, scrubEnv });
  return {
    fvp,
    veeam,
    async close() {
      await Promise.all([fvp.close(), veeam.close()]);
    },
  };
}
