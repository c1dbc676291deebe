/**
 * The input check every start makes before anything leaves the process (client/runs.ts re-exports
 * it): apart, so that the CLI validates its flags without loading a Temporal client.
 */
import { ProtectedBackupInput } from '../workflows/input';
import { InvalidInputError } from './errors';
import { WORKFLOW_TYPE } from './ids';

/** Validates like the workflow does; throws InvalidInputError naming the field. */
export function validateRequest(request: unknown): ProtectedBackupInput {
  const parsed = ProtectedBackupInput.safeParse(request);
  if (!parsed.success) throw InvalidInputError.from(WORKFLOW_TYPE, parsed.error);
  return parsed.data;
}
