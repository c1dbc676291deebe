/**
 * Every error the client library throws on purpose, in one place (as the SDK keeps its own in
 * `packages/client/src/errors.ts`). Each message is meant for an operator: it names the field, the
 * job, the schedule or the workflow id involved, and never a credential. The CLI maps them to exit
 * codes in one table (cli/program.ts `exitCodeOf`).
 */
import type { z } from 'zod';
import { describeZodError } from '../domain/zod-issues';
import type { RunOutcome } from './runs';

// ---- runs ----

/** The input failed validation: nothing was started. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
  constructor(
    readonly workflowType: string,
    readonly issues: z.core.$ZodIssue[],
    message: string,
  ) {
    super(message);
  }

  static from(workflowType: string, error: z.ZodError): InvalidInputError {
    return new InvalidInputError(
      workflowType,
      error.issues,
      `invalid ${workflowType} input: ${describeZodError(error)}`,
    );
  }
}

/** A run of the job is already open: nothing was started. */
export class RunAlreadyActiveError extends Error {
  override name = 'RunAlreadyActiveError';
  constructor(
    readonly job: string,
    readonly workflowId: string,
    readonly runId: string | undefined,
  ) {
    super(
      `a protected backup of job ${JSON.stringify(job)} is already running (workflow id ${JSON.stringify(workflowId)}${
        runId ? `, run ${runId}` : ''
      }); nothing was started. Follow it with \`status\`, or wait until it ends`,
    );
  }
}

/** No such workflow (or not a protectedBackup run). */
export class RunNotFoundError extends Error {
  override name = 'RunNotFoundError';
}

/** `executeProtectedBackup`: the run did not complete (failed, cancelled, terminated, timed out). */
export class ProtectedBackupRunError extends Error {
  override name = 'ProtectedBackupRunError';
  constructor(readonly outcome: RunOutcome) {
    super(`protected backup ${outcome.workflowId} ${outcome.kind}: ${outcome.message ?? 'no report'}`);
  }
}

// ---- connection ----

/** The Temporal client configuration (profile file, environment) cannot be loaded. */
export class ConnectionConfigError extends Error {
  override name = 'ConnectionConfigError';
}

/** Temporal did not answer at the configured address. */
export class ConnectionError extends Error {
  override name = 'ConnectionError';
}

// ---- schedules ----

export interface FileIssue {
  /** 1-based line in the file, or null when the problem is the file as a whole. */
  line: number | null;
  /** Where in the document: `schedules[1].spec.cron`. */
  path: string;
  message: string;
}

/** The schedule file is invalid: nothing was changed. One line per problem: `file:12 path: message`. */
export class ScheduleFileError extends Error {
  override name = 'ScheduleFileError';
  constructor(
    readonly file: string,
    readonly issues: FileIssue[],
  ) {
    super(
      `invalid schedule file ${file}:\n` +
        issues
          .map((i) => `  ${file}${i.line !== null ? `:${i.line}` : ''} ${i.path ? `${i.path}: ` : ''}${i.message}`)
          .join('\n'),
    );
  }
}

/** A schedule given on the command line (`schedule create`) is invalid: nothing was created. */
export class InvalidScheduleError extends Error {
  override name = 'InvalidScheduleError';
  constructor(readonly issues: FileIssue[]) {
    super(`invalid schedule: ${issues.map((i) => `${i.path ? `${i.path}: ` : ''}${i.message}`).join('; ')}`);
  }
}

/** The schedule exists but is not ours to change (not a protectedBackup schedule, or another owner's). */
export class ScheduleNotOursError extends Error {
  override name = 'ScheduleNotOursError';
}

/** `schedule trigger`: the server took the trigger and started nothing. */
export class TriggerDroppedError extends Error {
  override name = 'TriggerDroppedError';
  constructor(
    readonly scheduleId: string,
    message: string,
  ) {
    super(`schedule ${scheduleId}: ${message}`);
  }

  /** The schedule's overlap policy dropped it (SKIP with a run open, or BUFFER_ONE with its buffer full). */
  static byOverlap(scheduleId: string, overlap: string, openRuns: string[]): TriggerDroppedError {
    const open = openRuns.length ? ` (still open: ${openRuns.join(', ')})` : '';
    return new TriggerDroppedError(
      scheduleId,
      `the trigger was dropped by its overlap policy ${overlap}${open}: nothing was started. ` +
        'Wait for the open run to end, or cancel it, then trigger again',
    );
  }

  /** No run started and none is open: the likely cause is a run started in the same second (same workflow id). */
  static nothingStarted(scheduleId: string, waitedMs: number): TriggerDroppedError {
    return new TriggerDroppedError(
      scheduleId,
      `the server started no run within ${waitedMs / 1000} s and none is open: nothing was started (a run this ` +
        'schedule started in the same second has the same workflow id, and Temporal drops the second one). ' +
        'Trigger it again in a moment',
    );
  }
}

/** `schedule sync` stopped part-way: some changes were applied, the rest were not. */
export class SyncInterruptedError extends Error {
  override name = 'SyncInterruptedError';
  constructor(
    message: string,
    /** The changes applied before it stopped (`+ create a`), and those not applied. */
    readonly applied: string[],
    readonly notApplied: string[],
    override readonly cause: unknown,
  ) {
    super(message);
  }
}
