/**
 * The doctor: runs our module's Get-Doctor on the worker's host, on the FVP or the Veeam pool, and
 * returns what it found (PowerShell edition, vendor modules, the cmdlets and parameters the module
 * relies on, whether the server answers, and the problems to fix), with the raw output of a probe of
 * each unconfirmed vendor fact and, per row of activities/vendor/facts.ts, whether it held.
 */
import type { OperationInvoker } from './invoker';
import type { DoctorReport, EndpointName } from '../domain/endpoint';
import { classified } from './failures';
import { whileHeartbeating } from './heartbeat';
import { doctorArgs, judgeDoctor } from './vendor/doctor-report';

export interface DoctorDependencies {
  fvp: OperationInvoker;
  veeam: OperationInvoker;
}

export function createDoctorActivities({ fvp, veeam }: DoctorDependencies) {
  return {
    async runDoctor({ endpoint }: { endpoint: EndpointName }): Promise<DoctorReport> {
      const pool = endpoint === 'fvp' ? fvp : veeam;
      return classified(async () => {
        // The module returns what it saw, raw; the judgement (and each fact's verdict) is made here.
        return judgeDoctor(endpoint, await whileHeartbeating(pool.invoke('Get-Doctor', doctorArgs(endpoint))));
      });
    },
  };
}
