/**
 * The two PowerShell hosts the worker talks to, and what the module's doctor reports about one.
 * Pure and workflow-safe.
 */
import { z } from 'zod';

/** Which PowerShell host an operation runs on: FVP (Windows PowerShell 5.1) or Veeam (5.1 or pwsh 7). */
export const EndpointName = z.enum(['fvp', 'veeam']);
export type EndpointName = z.infer<typeof EndpointName>;

/** Facts the module's doctor gathers on a host, so an operator sees what is missing. */
export const DoctorReport = z
  .object({
    endpoint: EndpointName,
    psEdition: z.string(),
    psVersion: z.string(),
    modules: z.array(z.object({ name: z.string(), loaded: z.boolean(), version: z.string().nullable() }).strict()),
    cmdlets: z.array(
      z.object({ name: z.string(), present: z.boolean(), missingParameters: z.array(z.string()) }).strict(),
    ),
    serverReachable: z.boolean(),
    problems: z.array(z.string()),
  })
  .strict();
export type DoctorReport = z.infer<typeof DoctorReport>;
