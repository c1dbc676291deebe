/**
 * Endpoint configurations that run the fake PowerShell host against a lab, for tests, the demo and
 * the benchmark: the real node-powershell code path, with lab/bin/fake-powershell as the executable.
 */
import { resolve } from 'node:path';
import type { EndpointConfigInput } from '../../activities/powershell/config';
import type { EndpointName } from '../../domain/endpoint';
import { FAKE_HOST_ENV } from '../protocol';

/** The executable wrapper (bash, `exec node --import tsx lab/fake-powershell/main.ts`). */
export const FAKE_POWERSHELL = resolve(__dirname, '..', 'bin', 'fake-powershell');

export interface FakeEndpointOptions extends Partial<EndpointConfigInput> {
  /** Simulated module import + connect time of each process (FVPB_FAKE_STARTUP_MS). */
  startupMs?: number;
}

export function fakeEndpointConfig(
  endpoint: EndpointName,
  labUrl: string,
  { startupMs, env, ...overrides }: FakeEndpointOptions = {},
): EndpointConfigInput {
  return {
    executable: FAKE_POWERSHELL,
    server: endpoint === 'fvp' ? 'fvp-mgmt.lab.invalid' : 'veeam.lab.invalid',
    ...overrides,
    env: {
      [FAKE_HOST_ENV.labUrl]: labUrl,
      ...(startupMs === undefined ? {} : { [FAKE_HOST_ENV.startupMs]: String(startupMs) }),
      ...env,
    },
  };
}
