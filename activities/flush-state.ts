/**
 * What "flushed" means, in one place for the activity that polls and the workflow that decides:
 * write-through requested and in effect, and nothing left to destage. Pure: workflow-safe.
 */
import type { FlushState } from './powershell/operations';

export function isFlushed(state: FlushState | undefined): boolean {
  return (
    state !== undefined &&
    state.requested.mode === 'WriteThrough' &&
    state.effective === 'WriteThrough' &&
    state.timeToDestageSeconds === 0
  );
}
