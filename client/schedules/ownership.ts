/**
 * How a Temporal schedule says who manages it: its memo (set at creation, never changed after).
 *
 *   fvpbManagedBy: 'fvp-protected-backup'   every schedule this project creates
 *   fvpbSource:    'file' | 'cli'           from a schedule file (sync) or `schedule create`
 *   fvpbOwner:     '<owner>'                the file's `owner` (source 'file' only)
 *
 * `schedule sync` creates, updates and deletes only schedules with source 'file' and its own owner;
 * a schedule without that memo (made in the UI, by another tool, by `schedule create`, or by a file
 * with another owner) is never touched, even when its id is declared in the file (that is an error).
 */
export const MANAGED_BY = 'fvp-protected-backup';

export interface Ownership {
  source: 'file' | 'cli';
  owner: string | null;
}

export function ownershipMemo(ownership: Ownership): Record<string, string> {
  return {
    fvpbManagedBy: MANAGED_BY,
    fvpbSource: ownership.source,
    ...(ownership.owner !== null ? { fvpbOwner: ownership.owner } : {}),
  };
}

export function ownershipOf(memo: Record<string, unknown> | undefined): Ownership | null {
  if (memo?.fvpbManagedBy !== MANAGED_BY) return null;
  const source = memo.fvpbSource === 'file' ? 'file' : 'cli';
  return { source, owner: typeof memo.fvpbOwner === 'string' ? memo.fvpbOwner : null };
}

export function ownedByFile(memo: Record<string, unknown> | undefined, owner: string): boolean {
  const o = ownershipOf(memo);
  return o?.source === 'file' && o.owner === owner;
}

export function describeOwnership(memo: Record<string, unknown> | undefined): string {
  const o = ownershipOf(memo);
  if (!o) return 'unmanaged';
  return o.source === 'file' ? `file (owner ${o.owner ?? '?'})` : 'cli';
}
