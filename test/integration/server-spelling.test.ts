/**
 * A worker reconfigured with another spelling of its FVP management server (`fvp-mgmt` for
 * `fvp-mgmt.lab.invalid`) while guards are open on its task queue refuses to start
 * (worker/open-guards.ts): guard ids carry the server, so it would start a second guard for a VM
 * an open guard holds in write-through. Once the guards have closed, the new spelling starts.
 * (Case and a trailing dot are one spelling: test/domain covers canonicalFvpServer; a second worker
 * on this queue would meet the site check of worker/site.ts, which remembers pollers for minutes.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, uniqueId, type Harness } from '../helpers/harness';
import { scenario } from '../helpers/scenarios';
import { FVP_SERVER } from '../helpers/guard';
import { startWorkerProcess } from '../helpers/worker-process';
import { waitFor } from '../helpers/wait';
import { VM_GUARD_WORKFLOW_TYPE, guardIdForUuid, type VmGuardInput } from '../../domain/guard-protocol';

describe('a worker and the spelling of its FVP server', () => {
  let h: Harness;

  before(async () => {
    h = await startHarness(scenario());
  });
  after(async () => h?.stop());

  /** Starts a worker of `fvpServer` on `taskQueue`: resolves once it polls, rejects with its output if it exits. */
  function worker(taskQueue: string, fvpServer: string) {
    return startWorkerProcess({
      temporalAddress: h.env.address,
      taskQueue,
      labUrl: h.lab.url,
      workflowBundle: h.bundle,
      env: { FVPB_FVP_SERVER: fvpServer },
    });
  }

  test('refused while a guard of the other spelling runs on its queue; started once it has closed', async () => {
    const taskQueue = uniqueId('spelling');
    // A guard as a worker configured with FVP_SERVER left it: running, its memo naming its server.
    // No worker polls the queue yet, so it stays exactly so (nothing of it runs).
    const guardId = guardIdForUuid(FVP_SERVER, uniqueId('uuid'));
    const input: VmGuardInput = { vm: 'web1', fvpServer: FVP_SERVER };
    const guard = await h.env.client.workflow.start(VM_GUARD_WORKFLOW_TYPE, {
      taskQueue,
      workflowId: guardId,
      args: [input],
      memo: { kind: 'vm-guard', vm: 'web1', fvpServer: FVP_SERVER },
    });
    await waitFor('the guard to be listed', async () => {
      const listed = await h.env.client.workflow.count(`WorkflowId = '${guardId}' AND ExecutionStatus = 'Running'`);
      return listed.count === 1;
    });

    const short = FVP_SERVER.split('.')[0] as string;
    await assert.rejects(worker(taskQueue, short), (err: Error) => {
      assert.match(err.message, /code 2/);
      assert.match(
        err.message,
        new RegExp(`1 guard\\(s\\) running on task queue "${taskQueue}" were started for FVP server "${FVP_SERVER}"`),
      );
      assert.match(err.message, new RegExp(guardId.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
      return true;
    });

    await guard.terminate('the test closes it');
    await waitFor('the guard to be listed as closed', async () => {
      const listed = await h.env.client.workflow.count(`WorkflowId = '${guardId}' AND ExecutionStatus = 'Running'`);
      return listed.count === 0;
    });
    const other = await worker(taskQueue, short);
    await other.kill('SIGTERM');
  });
});
