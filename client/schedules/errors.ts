/** Errors of schedules-as-code, each meant for the operator who edits the file or runs the CLI. */

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
