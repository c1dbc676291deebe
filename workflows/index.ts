// Every workflow the worker runs. Workflow code is deterministic: no Node built-ins, no I/O.
export { protectedBackup, statusQuery } from './protected-backup';
export { setVadpBlacklist } from './set-vadp-blacklist';
export { doctor } from './doctor';
export { vmGuard } from './guard/entity';
export { reconcilePolicies } from './reconcile-policies';
