/**
 * An error a simulated call reports, as the module returns it (operations.ts RawError): raw facts,
 * classified by the worker (activities/powershell/classify.ts), never by the lab. Either one the
 * module raises itself (a code: JobNotFound, FenceMoved...), or a vendor cmdlet's exception.
 */
import type { RawError } from '../../activities/powershell/operations';

export class OpError extends Error {
  constructor(readonly raw: RawError) {
    super(raw.message);
    this.name = 'OpError';
  }
}

/** An error FvpBackup.psm1 raises itself (New-OpError): an InvalidOperationException carrying its code. */
export const moduleError = (code: string, message: string): OpError =>
  new OpError({ code, message, errorId: null, exceptions: [{ type: 'System.InvalidOperationException', message }] });

/** A vendor cmdlet's error: its exception type and message, as PowerShell reports them. */
export const vendorError = (type: string, message: string, errorId: string | null = null): OpError =>
  new OpError({ code: null, message, errorId, exceptions: [{ type, message }] });

/** The exception types the lab's simulated vendor cmdlets throw. */
export const VENDOR_EXCEPTION = {
  prnx: 'PernixData.Prnx.PrnxException',
  web: 'System.Net.WebException',
  binding: 'System.Management.Automation.ParameterBindingException',
  auth: 'System.UnauthorizedAccessException',
} as const;

/** Renders a name for an error message: quoted, control characters escaped, long names shortened. */
export function quoteName(name: string): string {
  const shown = name.length > 120 ? `${name.slice(0, 120)}… (${name.length} chars)` : name;
  return JSON.stringify(shown);
}

/** Formats zod issues as `field.path: message; ...`, so a caller sees which field is wrong. */
export function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
