/**
 * doctor: runs the module's Get-Doctor on the worker's host for each endpoint asked for (FVP,
 * Veeam) and returns the reports, so an operator sees what is missing before the first backup.
 * Read-only: it changes nothing on FVP or Veeam.
 */
import { z } from 'zod';
import { EndpointName, type DoctorReport } from '../domain/endpoint';
import { runDoctor } from './activity-proxies';
import { parseWorkflowInput } from './parse-input';

export const DoctorInput = z
  .object({
    /** Which PowerShell hosts to check (default both). */
    endpoints: z.array(EndpointName).min(1, 'expected at least one endpoint: fvp or veeam').default(['fvp', 'veeam']),
  })
  .strict();
export type DoctorRequest = z.input<typeof DoctorInput>;

export interface DoctorResult {
  reports: DoctorReport[];
}

export async function doctor(request: DoctorRequest = {}): Promise<DoctorResult> {
  const input = parseWorkflowInput(DoctorInput, request ?? {}, 'doctor');
  const reports: DoctorReport[] = [];
  for (const endpoint of new Set(input.endpoints)) reports.push(await runDoctor({ endpoint }));
  return { reports };
}
