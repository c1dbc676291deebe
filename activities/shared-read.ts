/**
 * One read of the FVP management server shared by every activity of the worker that needs it at
 * the same moment (issue 12): 200 guards each asking at once cost one call, not 200. A read is
 * joined while it is in flight, or taken if it started at most `maxAgeMs` ago; `fresh` joins only
 * one still in flight, so its answer is never older than the caller's question.
 *
 * Nothing couples the callers to each other: a read that fails fails only those that shared it
 * (each retries as its own activity) and is never handed out again; one cancelled by the activity
 * that started it (its attempt timed out or was cancelled) is read again by the others rather than
 * failing them, since each PowerShell call carries the cancellation of the activity that made it.
 */
import { activityCancellationSignal } from './invoker';
import { whileHeartbeating } from './heartbeat';
import { PowerShellError } from './powershell/errors';

interface Read<T> {
  startedAt: number;
  value: Promise<T>;
  /** True once it answered (or failed): `fresh` no longer joins it. */
  settled: boolean;
}

export class SharedRead<T> {
  private current: Read<T> | null = null;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The value read at most `maxAgeMs` ago, or in flight now, or read now. */
  async recent(maxAgeMs: number): Promise<T> {
    const shared = this.current;
    if (shared === null || this.now() - shared.startedAt >= maxAgeMs) return this.read();
    try {
      return await whileHeartbeating(shared.value);
    } catch (err) {
      // The activity that started it was cancelled: not ours to fail on. Read it ourselves.
      if (!cancelledElsewhere(err)) throw err;
      return this.read();
    }
  }

  /** The value from a read that answers after this call: in flight now, or new. */
  async fresh(): Promise<T> {
    const shared = this.current;
    return this.recent(shared !== null && !shared.settled ? Number.POSITIVE_INFINITY : 0);
  }

  private async read(): Promise<T> {
    const read: Read<T> = { startedAt: this.now(), value: this.load(), settled: false };
    this.current = read;
    read.value.then(
      () => {
        read.settled = true;
      },
      () => {
        read.settled = true;
        // A failed read is never handed out again.
        if (this.current === read) this.current = null;
      },
    );
    return whileHeartbeating(read.value);
  }
}

function cancelledElsewhere(err: unknown): boolean {
  const cancelled =
    err instanceof PowerShellError && (err.category === 'cancelled' || err.category === 'cancelled-in-flight');
  return cancelled && activityCancellationSignal()?.aborted !== true;
}
