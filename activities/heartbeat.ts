/**
 * Keeps an activity's heartbeat going while it waits on one slow PowerShell call, so that a
 * killed worker is noticed after `heartbeatTimeout` instead of after the whole start-to-close
 * timeout, and so that cancellation can reach the activity. Returning on cancellation is not enough
 * on its own: the PowerShell call it waited for is cancelled too, because the worker's invoker hands
 * every call this activity's cancellation signal (activities/invoker.ts), so a stale attempt cannot
 * act after its retry.
 */
import { Context } from '@temporalio/activity';

export async function whileHeartbeating<T>(work: Promise<T>, details?: unknown): Promise<T> {
  const ctx = Context.current();
  const timeout = ctx.info.heartbeatTimeoutMs;
  if (!timeout) return work;
  ctx.heartbeat(details);
  const timer = setInterval(() => ctx.heartbeat(details), Math.max(50, Math.floor(timeout / 3)));
  try {
    return await Promise.race([work, ctx.cancelled]);
  } finally {
    clearInterval(timer);
  }
}

/** A cancellable pause inside an activity (throws CancelledFailure when the activity is cancelled). */
export function pause(ms: number): Promise<void> {
  return whileHeartbeating(Context.current().sleep(ms));
}
