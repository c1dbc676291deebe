/**
 * The doctor: runs our module's Get-Doctor on the worker's host, on the FVP or the Veeam pool, and
 * returns what it found (PowerShell edition, vendor modules, the cmdlets and parameters the module
 * relies on, whether the server answers, and the problems to fix).
 */
import type { OperationInvoker } from './invoker';
import type { DoctorReport, EndpointName } from '../domain/endpoint';
import { classified } from './failures';
import { whileHeartbeating } from './heartbeat';

export interface DoctorDependencies {
  fvp: OperationInvoker;
  veeam: OperationInvoker;
}

export function createDoctorActivities({ fvp, veeam }: DoctorDependencies) {
  return {
    async runDoctor({ endpoint }: { endpoint: EndpointName }): Promise<DoctorReport> {
      const pool = endpoint === 'fvp' ? fvp : veeam;
      return classified(() => whileHeartbeating(pool.invoke('Get-Doctor', {})));
    },
  };
}
