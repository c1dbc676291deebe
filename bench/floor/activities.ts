/** The floor workflows' activities: the run's one request to its guards, and a guard's no-op write. */
import type { Client } from '@temporalio/client';
import { floorGuard, floorHoldSignal } from './workflows';

export function createFloorActivities(client: Client, taskQueue: string) {
  return {
    /** Signal-with-start of every guard at once, as the product's signalVmGuards does. */
    async startFloorGuards({ runId, count, withActivity }: { runId: string; count: number; withActivity: boolean }) {
      await Promise.all(
        Array.from({ length: count }, (_, i) =>
          client.workflow.signalWithStart(floorGuard, {
            taskQueue,
            workflowId: `${runId}-guard-${i}`,
            args: [withActivity],
            signal: floorHoldSignal,
            signalArgs: [runId],
          }),
        ),
      );
    },
    async writeNothing(): Promise<void> {},
  };
}

export type FloorActivities = ReturnType<typeof createFloorActivities>;
