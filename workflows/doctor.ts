/**
 * doctor: runs the module's Get-Doctor on the worker's host for each endpoint asked for (FVP,
 * Veeam) and returns the reports, so an operator sees what is missing before the first backup.
 * Read-only: it changes nothing on FVP or Veeam.
 */
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import { z } from 'zod';
import type { Activities } from '../activities';
import { EndpointName, type DoctorReport } from '../domain/endpoint';
import { FailureType } from './failures';
import { describeZodError } from '../domain/zod-issues';

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

const { runDoctor } = proxyActivities<Activities>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 3 },
});

export async function doctor(request: DoctorRequest = {}): Promise<DoctorResult> {
  const parsed = DoctorInput.safeParse(request ?? {});
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `invalid doctor input: ${describeZodError(parsed.error)}`,
      FailureType.invalidInput,
    );
  }
  const reports: DoctorReport[] = [];
  for (const endpoint of new Set(parsed.data.endpoints)) reports.push(await runDoctor({ endpoint }));
  return { reports };
}
