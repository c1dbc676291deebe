/**
 * Every activity the worker registers, built from the PowerShell pools it is given. Workflows
 * import only the *type* of this object.
 */
import type { OperationInvoker } from './invoker';
import { createFvpActivities } from './fvp';
import { createVeeamActivities } from './veeam';

export interface ActivityDependencies {
  fvp: OperationInvoker;
  veeam: OperationInvoker;
}

export function createActivities(deps: ActivityDependencies) {
  return {
    ...createFvpActivities(deps),
    ...createVeeamActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
