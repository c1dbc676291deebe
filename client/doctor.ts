/**
 * Runs the doctor workflow: Get-Doctor on the worker's host, for FVP and/or Veeam.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { DoctorReport, EndpointName } from '../domain/endpoint';
import { DoctorInput, type doctor, type DoctorResult } from '../workflows/doctor';
import { InvalidInputError } from './errors';
import { startDetails, summary } from './metadata';

export interface DoctorOptions {
  taskQueue: string;
  endpoints?: EndpointName[];
}

export async function runDoctor(client: Client, options: DoctorOptions): Promise<DoctorResult> {
  const request = { endpoints: options.endpoints };
  const parsed = DoctorInput.safeParse(request);
  if (!parsed.success) throw InvalidInputError.from('doctor', parsed.error);
  return client.workflow.execute<typeof doctor>('doctor', {
    taskQueue: options.taskQueue,
    workflowId: `doctor/${randomUUID()}`,
    args: [parsed.data],
    staticSummary: summary(`doctor: ${parsed.data.endpoints.join(', ')}`),
    staticDetails: startDetails({ input: parsed.data, startedBy: client.options.identity, via: '`doctor`' }),
    workflowExecutionTimeout: '10 minutes', // read-only: nothing to clean up when it times out
  });
}

/** What an operator has to fix, endpoint by endpoint (the lab's simulator notice is not a problem). */
export function missingItems(report: DoctorReport): string[] {
  const missing: string[] = [];
  for (const m of report.modules) if (!m.loaded) missing.push(`module ${m.name} not loaded`);
  for (const c of report.cmdlets) {
    if (!c.present) missing.push(`cmdlet ${c.name} missing`);
    else if (c.missingParameters.length) missing.push(`${c.name} lacks -${c.missingParameters.join(', -')}`);
  }
  if (!report.serverReachable) missing.push('server unreachable');
  return missing;
}
