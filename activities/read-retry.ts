/**
 * Reads that fail for a reason a retry may cure are read again at once, inside the activity, a few
 * times (issue 11): the thin module made a policy write three calls where it was one (read, write,
 * read back), and a transient failure of any of them used to cost the whole attempt and Temporal's
 * backoff. Only reads: they change nothing, so reading twice is harmless. Writes are never repeated
 * here; Temporal retries their activity, which reads again before it writes.
 */
import type { OperationInvoker } from './invoker';
import { activityCancellationSignal } from './invoker';
import { PowerShellError } from './powershell/errors';
import type { OperationName } from './powershell/operations';

const READS: ReadonlySet<OperationName> = new Set<OperationName>([
  'Get-FvpServer',
  'Get-VmCachePolicy',
  'Get-VmFlushState',
  'Get-FvpVms',
  'Get-VmPolicyStats',
  'Get-ProxyVadp',
]);

/** Attempts of one read, the first included. */
export const READ_ATTEMPTS = 3;

function again(err: unknown): boolean {
  if (activityCancellationSignal()?.aborted === true) return false;
  // A cancelled call was dropped or killed with its activity: nothing to read again for.
  return err instanceof PowerShellError && err.retryable && !err.category.startsWith('cancelled');
}

export function retryingReads(inner: OperationInvoker): OperationInvoker {
  return {
    async invoke(op, args) {
      if (!READS.has(op)) return inner.invoke(op, args);
      for (let attempt = 1; ; attempt++) {
        try {
          return await inner.invoke(op, args);
        } catch (err) {
          if (attempt >= READ_ATTEMPTS || !again(err)) throw err;
        }
      }
    },
  };
}
