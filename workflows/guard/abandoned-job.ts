/**
 * How a guard waits for the Veeam job of a holder that died after its grant (the job may still
 * read the disks, so the VM stays in write-through until it is over): since the
 * `abandoned-job-short-reads` patch, by short reads between durable timers; a request to the guard
 * interrupts any wait.
 */
import { CancellationScope, condition, log, sleep } from '@temporalio/workflow';
import { messageOf, typeOf } from '../failures';
import type { VmGuard } from './state';
import { stepProxies } from '../activity-proxies';

type WaitOutcome = { kind: 'done' } | { kind: 'failed'; error: string; type?: string } | { kind: 'request' };

/** Runs `work` until it ends (or fails) or a request arrives first; failures of type `expected` are not logged. */
export async function untilRequest(
  guard: VmGuard,
  work: () => Promise<unknown>,
  expected?: string,
): Promise<WaitOutcome> {
  const scope = new CancellationScope();
  const done = scope.run(work).then(
    (): WaitOutcome => ({ kind: 'done' }),
    (err: unknown): WaitOutcome => {
      if (!scope.consideredCancelled && typeOf(err) !== expected)
        log.warn('vmGuard: wait failed', { error: messageOf(err) });
      return { kind: 'failed', error: messageOf(err), type: typeOf(err) };
    },
  );
  const request = scope
    .run(() => condition(() => guard.state.inbox.length > 0))
    .then(
      (): WaitOutcome => ({ kind: 'request' }),
      (): WaitOutcome => ({ kind: 'failed', error: 'interrupted' }),
    );
  const first = await Promise.race([done, request]);
  scope.cancel();
  await Promise.allSettled([done, request]);
  return first;
}

/**
 * The patch under which a guard waits for an abandoned job by short reads between durable timers,
 * instead of one activity that polls for as long as the job runs: such waits, one per VM of a dead
 * holder, held activity slots for hours, and a 20-VM job abandoned filled a worker's 20, starving
 * every other run's flush checks and restores (review-reliability.md finding 16).
 */
export const ABANDONED_JOB_SHORT_READS = 'abandoned-job-short-reads';

/** The longest pause between two reads of an abandoned job: how late, at most, its end is seen. */
const ABANDONED_READ_MAX_PAUSE_MS = 30_000;

/** What prepareJobStart answers, with `whenAlreadyRunning: 'fail'`, while the job has a live session (activities/veeam.ts). */
const JOB_ALREADY_RUNNING = 'JobAlreadyRunning';

export function cannotConfirm(job: string, error: string): string {
  return `cannot confirm that Veeam job ${JSON.stringify(job)} has no live session: ${error}`;
}

/** The pause after a read that found the job live: doubling from the job poll interval to a bound. */
export function nextReadPause(guard: VmGuard, pauseMs: number): number {
  const { jobPollMs, restoreMaxIntervalMs } = guard.timeouts();
  return Math.max(jobPollMs, Math.min(pauseMs * 2, restoreMaxIntervalMs, ABANDONED_READ_MAX_PAUSE_MS));
}

/**
 * One short read of an abandoned holder's job (one activity attempt of a few calls), then, unless
 * it is over, a durable timer; a request interrupts either. 'over': no live session (or Veeam no
 * longer has the job: it reads nothing). 'live': it runs, or it could not be confirmed over
 * (Veeam unreachable): either way the VM stays in write-through and the guard reads again.
 */
export async function readAbandonedJob(
  guard: VmGuard,
  job: string,
  pauseMs: number,
): Promise<'over' | 'live' | 'request'> {
  const read = await untilRequest(
    guard,
    () =>
      stepProxies(
        guard.timeouts(),
        undefined,
        `check that ${JSON.stringify(job)} is over, then restore ${guard.state.vm}`,
      ).veeam.prepareJobStart({
        job,
        whenAlreadyRunning: 'fail',
        pollIntervalMs: guard.timeouts().jobPollMs,
      }),
    JOB_ALREADY_RUNNING,
  );
  if (read.kind === 'request') return 'request';
  if (read.kind === 'done' || read.type === 'JobNotFound') return 'over';
  if (read.type !== JOB_ALREADY_RUNNING) guard.state.lastError = cannotConfirm(job, read.error);
  else if (guard.state.lastError?.startsWith(cannotConfirm(job, ''))) guard.state.lastError = null; // Veeam answers again
  const pause = await untilRequest(guard, () =>
    sleep(read.type === JOB_ALREADY_RUNNING ? pauseMs : guard.timeouts().restoreMaxIntervalMs),
  );
  return pause.kind === 'request' ? 'request' : 'live';
}
