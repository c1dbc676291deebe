/**
 * The one formatter of zod issues for every boundary (workflow inputs, CLI, config files, the
 * environment, PowerShell output): each problem names its field. Pure and workflow-safe.
 */
import type { z } from 'zod';

/** Readable, one line per problem, naming the field: `flush.deadline: expected a positive duration…`. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.length ? issue.path.map(String).join('.') : '(input)';
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}
