/**
 * The two PowerShell hosts the worker talks to, and what the module's doctor reports about one.
 * Pure and workflow-safe.
 */
import { z } from 'zod';

/** Which PowerShell host an operation runs on: FVP (Windows PowerShell 5.1) or Veeam (5.1 or pwsh 7). */
export const EndpointName = z.enum(['fvp', 'veeam']);
export type EndpointName = z.infer<typeof EndpointName>;

/**
 * A configured server as one spelling: trimmed, lower-cased (host names are case-insensitive) and
 * without a trailing dot (an absolute DNS name). It does NOT make `fvp01` and `fvp01.corp.local`
 * one: that needs the server's own identity, and no vendor evidence names a property that gives one.
 */
export function canonicalHostName(server: string): string {
  return server.trim().toLowerCase().replace(/\.+$/, '');
}

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
    /**
     * What the doctor saw, raw (issue 11): each probe of an unconfirmed vendor fact (a cmdlet call
     * on a real object, a parameter list, a timing) with the raw output or error, as the module
     * projects vendor output. `subject`: the VM or job it was run on.
     */
    observations: z
      .array(z.object({ probe: z.string(), subject: z.string().nullable(), result: z.unknown() }).strict())
      .default([]),
    /** Each row of the vendor-facts table the observations confirmed or contradicted (filled by the worker). */
    facts: z
      .array(
        z
          .object({
            row: z.string(),
            status: z.enum(['confirmed', 'unconfirmed']),
            verdict: z.enum(['confirmed', 'contradicted', 'not-checked']),
            saw: z.string(),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();
export type DoctorReport = z.infer<typeof DoctorReport>;
