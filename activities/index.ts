/**
 * Every activity the worker registers, built from the PowerShell pools and the Temporal client it
 * is given. Workflows import only the *type* of this object.
 */
import type { OperationInvoker } from './invoker';
import { createDoctorActivities } from './doctor';
import { createFvpActivities } from './fvp';
import { createReconcileActivities } from './reconcile';
import { createVeeamActivities } from './veeam';
import { createVmGuardActivities, type TemporalDependencies } from './vm-guard';

export interface ActivityDependencies {
  fvp: OperationInvoker;
  veeam: OperationInvoker;
  /** The worker's own Temporal client, for the per-VM guard and the reconciler. */
  temporal: TemporalDependencies;
}

export function createActivities(deps: ActivityDependencies) {
  return {
    ...createFvpActivities(deps),
    ...createVeeamActivities(deps),
    ...createDoctorActivities(deps),
    ...createVmGuardActivities(deps.temporal),
    ...createReconcileActivities(deps.temporal),
  };
}

export type Activities = ReturnType<typeof createActivities>;
