/** The task queue workers poll and clients start runs on, unless configured otherwise. */
export const DEFAULT_TASK_QUEUE = 'fvp-protected-backup';
