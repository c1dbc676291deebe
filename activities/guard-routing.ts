/**
 * Which guard id a run addresses for each VM (runs since the `guard-by-uuid` patch,
 * workflows/guard/holder.ts). New guards are keyed on the VM's FVP uuid (guardIdForUuid); a worker
 * upgraded while a name-keyed guard (guardIdFor, of the server as configured) holds a VM must not
 * start a second guard for it: two guards would each record, switch and restore the same VM, and
 * the second would record the first one's write-through as the VM's policy. So a VM whose
 * name-keyed guard is Running keeps that guard until it completes; the next run after it gets the
 * uuid-keyed one, whose first run adopts what the name-keyed one left unclean
 * (vm-guard.ts findGuardPredecessor `alsoGuardIds`).
 *
 * Asked with `describe`, which is strongly consistent, not with a visibility query: a guard started
 * a moment ago is not listed yet, and missing it would make exactly the second guard this prevents.
 * A describe that fails (other than not found) fails the activity: retried, never guessed.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { guardIdFor, guardIdForUuid, VM_GUARD_WORKFLOW_TYPE } from '../domain/guard-protocol';
import type { TemporalDependencies } from './vm-guard';

export const GuardRoutingInput = z
  .object({
    /** The FVP server as configured: the name-keyed ids were built from it as it was written. */
    fvpServer: z.string().min(1),
    vms: z.array(z.object({ vm: z.string().min(1), uuid: z.string().min(1) }).strict()),
  })
  .strict();
export type GuardRoutingInput = z.infer<typeof GuardRoutingInput>;

export interface GuardRoute {
  vm: string;
  uuid: string;
  guardId: string;
  /** The VM's name-keyed guard runs: this run holds the VM through it. */
  legacy: boolean;
}

export function createGuardRoutingActivities({ client }: Pick<TemporalDependencies, 'client'>) {
  /** Whether the latest run of `workflowId` is a guard that is running now. */
  async function runningGuard(workflowId: string): Promise<boolean> {
    try {
      const described = await client.workflow.getHandle(workflowId).describe();
      return described.type === VM_GUARD_WORKFLOW_TYPE && described.status.name === 'RUNNING';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  return {
    async routeGuards(input: GuardRoutingInput): Promise<GuardRoute[]> {
      const { fvpServer, vms } = GuardRoutingInput.parse(input);
      return Promise.all(
        vms.map(async ({ vm, uuid }) => {
          const legacyId = guardIdFor(fvpServer, vm);
          const legacy = await runningGuard(legacyId);
          return { vm, uuid, guardId: legacy ? legacyId : guardIdForUuid(fvpServer, uuid), legacy };
        }),
      );
    },
  };
}
