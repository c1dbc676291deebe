/**
 * The typed client library for protected backups: start, execute, read the status of, cancel,
 * follow and list runs. Every input is validated with the workflow's own `ProtectedBackupInput`
 * schema before it leaves the process: a bad input throws `InvalidInputError` naming the field, and
 * nothing is started.
 *
 *   const { client, taskQueue } = await connect();
 *   const run = await startProtectedBackup(client, { job: 'Nightly-SQL' }, { taskQueue });
 *   const outcome = await waitForOutcome(run.handle);        // never throws for a failed run
 *
 * This is the public entry (callers and the CLI's lazy `import('../runs.js')` use it); each subject
 * lives in its own module: starting a run (start-run.ts), following it to its outcome
 * (run-outcome.ts), one run by its id (run-by-id.ts) and listing runs (list-runs.ts).
 */
export { validateRequest } from './request';
export {
  executeProtectedBackup,
  startProtectedBackup,
  type ProtectedBackupHandle,
  type StartedRun,
  type StartOptions,
} from './start-run';
export { followRun, queryStatus, waitForOutcome, type OutcomeKind, type RunOutcome } from './run-outcome';
export { cancelProtectedBackup, readRun, type RunInfo } from './run-by-id';
export { listProtectedBackups, listQuery, type ListOptions, type RunSummary } from './list-runs';
