/** An error a simulated cmdlet reports: becomes `{ ok: false, op, error: { type, message, category } }`. */
import type { ErrorCategory } from '../../activities/powershell/operations';

export class OpError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly category: ErrorCategory,
  ) {
    super(message);
    this.name = 'OpError';
  }
}

export const permanent = (type: string, message: string): OpError => new OpError(type, message, 'permanent');
export const transient = (type: string, message: string): OpError => new OpError(type, message, 'transient');

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
