/**
 * The only thing activities need from the PowerShell boundary: run one operation of our module
 * and get its validated result. Tests and the lab satisfy it with the same pools production uses.
 */
import { Context } from '@temporalio/activity';
import type { OperationArgs, OperationName, OperationResult } from './powershell/operations';

export interface OperationInvoker {
  invoke<O extends OperationName>(op: O, args: OperationArgs<O>): Promise<OperationResult<O>>;
}

/** What a PowerShell pool offers: an invoke that an AbortSignal can cancel. */
export interface CancellableInvoker {
  invoke<O extends OperationName>(op: O, args: OperationArgs<O>, signal?: AbortSignal): Promise<OperationResult<O>>;
}

/** The running activity's cancellation signal; undefined outside an activity (a script, a test). */
export function activityCancellationSignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    // Context.current() throws when no activity is running in this async context.
    return undefined;
  }
}

/**
 * An invoker whose every call is cancelled with the activity that makes it: when the attempt times
 * out or is cancelled, a call still queued is dropped and one in flight is killed, so a stale
 * attempt can never write after its retry (on this or another worker) went on. The activities stay
 * unaware of it: the context is read at each call.
 */
export function cancelledWithActivity(pool: CancellableInvoker): OperationInvoker {
  return {
    invoke: (op, args) => pool.invoke(op, args, activityCancellationSignal()),
  };
}
