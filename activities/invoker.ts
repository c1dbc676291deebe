/**
 * The only thing activities need from the PowerShell boundary: run one operation of our module
 * and get its validated result. Tests and the lab satisfy it with the same pools production uses.
 */
import { performance } from 'node:perf_hooks';
import { Context } from '@temporalio/activity';
import type { OperationArgs, OperationName, OperationResult } from './powershell/operations';

export interface OperationInvoker {
  invoke<O extends OperationName>(op: O, args: OperationArgs<O>): Promise<OperationResult<O>>;
}

/** What a PowerShell pool offers: an invoke that an AbortSignal can cancel. */
export interface CancellableInvoker {
  invoke<O extends OperationName>(op: O, args: OperationArgs<O>, signal?: AbortSignal): Promise<OperationResult<O>>;
}

/** The running activity's context; undefined outside an activity (a script, a test). */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    // Context.current() throws when no activity is running in this async context.
    return undefined;
  }
}

/** The running activity's cancellation signal; undefined outside an activity. */
export function activityCancellationSignal(): AbortSignal | undefined {
  return activityContext()?.cancellationSignal;
}

/**
 * The worker stood still for longer than this many heartbeat timeouts: its attempt is gone (the
 * server heard no heartbeat meanwhile; Core may have flushed one throttled heartbeat late, so a
 * starved, not frozen, process can be wrong by up to 0.8 of a timeout: the cost is one retried
 * attempt, the alternative a write that lands after the retry's).
 */
export const STALL_HEARTBEAT_TIMEOUTS = 1;

/**
 * The signal of one call: it fires when the activity is cancelled, and also when this process stood
 * still (SIGSTOP, a paused VM, a debugger, a starved event loop) for longer than its heartbeat
 * timeout: no heartbeat left meanwhile, so the server has timed the attempt out and a retry may
 * already have acted. Temporal's own cancellation arrives only after
 * the next heartbeat's round trip, and in that gap a queued call would be handed the permit freed by
 * output read on waking and be sent. Overdue timers run before the pool writes a line (session.ts
 * yields to them), so the watchdog fires first.
 */
function callSignal(ctx: Context): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const cancellation = ctx.cancellationSignal;
  const forward = () => controller.abort(cancellation.reason);
  if (cancellation.aborted) forward();
  else cancellation.addEventListener('abort', forward, { once: true });
  const heartbeatTimeoutMs = ctx.info.heartbeatTimeoutMs;
  let timer: NodeJS.Timeout | undefined;
  if (heartbeatTimeoutMs) {
    const limit = heartbeatTimeoutMs * STALL_HEARTBEAT_TIMEOUTS;
    let last = performance.now();
    timer = setInterval(
      () => {
        const now = performance.now();
        if (now - last > limit) controller.abort(new Error(`the worker stood still for ${Math.round(now - last)} ms`));
        last = now;
      },
      Math.max(50, Math.floor(heartbeatTimeoutMs / 4)),
    );
  }
  return {
    signal: controller.signal,
    dispose() {
      clearInterval(timer);
      cancellation.removeEventListener('abort', forward);
    },
  };
}

/**
 * An invoker whose every call is cancelled with the activity that makes it: when the attempt times
 * out or is cancelled (or the worker froze past its heartbeat timeout), a call still queued is
 * dropped and one in flight is killed, so a stale attempt can never write after its retry (on this
 * or another worker) went on. The activities stay unaware of it: the context is read at each call.
 */
export function cancelledWithActivity(pool: CancellableInvoker): OperationInvoker {
  return {
    async invoke(op, args) {
      const ctx = activityContext();
      if (ctx === undefined) return pool.invoke(op, args);
      const call = callSignal(ctx);
      try {
        return await pool.invoke(op, args, call.signal);
      } finally {
        call.dispose();
      }
    },
  };
}
