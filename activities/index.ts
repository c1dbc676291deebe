/**
 * Every activity the worker registers, built from the PowerShell pools and the Temporal client it
 * is given. Workflows import only the *type* of this object.
 */
import type { OperationInvoker } from './invoker';
import { createDoctorActivities } from './doctor';
import { createFvpActivities } from './fvp';
import { createNotifyActivities, type NotifySettings } from './notify';
import { createReconcileActivities } from './reconcile';
import { createVeeamActivities } from './veeam';
import { createVeeamStartedActivities } from './veeam-started';
import { createVmGuardActivities, type TemporalDependencies } from './vm-guard';
import { createSwitchAndFlush } from './switch-and-flush';

export interface ActivityDependencies {
  fvp: OperationInvoker;
  veeam: OperationInvoker;
  /** The worker's own Temporal client, for the per-VM guard and the reconciler. */
  temporal: TemporalDependencies;
  /** Notification channels; absent or empty, `notify` sends nothing and says so. */
  notify?: NotifySettings;
}

export function createActivities(deps: ActivityDependencies) {
  const fvp = createFvpActivities(deps);
  return {
    ...fvp,
    ...createSwitchAndFlush(fvp),
    ...createVeeamActivities(deps),
    ...createVeeamStartedActivities(deps),
    ...createDoctorActivities(deps),
    ...createVmGuardActivities(deps.temporal),
    ...createReconcileActivities(deps.temporal),
    ...createNotifyActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
