/**
 * Exit codes of the CLI (and of `npm run demo --exit`), for scripts and schedulers.
 */
import type { OutcomeKind } from './runs';

export const ExitCode = {
  /** The run completed and Veeam reported Success (or the command did what it was asked). */
  success: 0,
  /** The run failed, was terminated or timed out; or the command failed (Temporal unreachable, no such run). */
  failure: 1,
  /** A bad argument, an invalid input or schedule file, an unloadable profile: nothing was started or changed. */
  usage: 2,
  /** The run was cancelled (its VMs were restored before it closed). */
  cancelled: 3,
  /** The run completed with warnings (e.g. Veeam result Warning). */
  warning: 4,
  /** Not started: a run of the same job is already open. */
  alreadyRunning: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export function exitCodeFor(kind: OutcomeKind): ExitCode {
  switch (kind) {
    case 'success':
      return ExitCode.success;
    case 'warning':
      return ExitCode.warning;
    case 'cancelled':
      return ExitCode.cancelled;
    default:
      return ExitCode.failure;
  }
}
