/**
 * What one VM's guard costs the Temporal server on the way to its grant (issue 12: at 200 VMs the
 * flush phase is the server's and the worker's work per guard, ~5 workflow tasks, 4 activities and
 * 9 visibility writes each, times 200). Counted in the guard's own history, with the real dev
 * server, a worker process and the lab: since `guard-lean-flush` the reads before its first
 * decision run as local activities inside its first workflow task, and the switch and the first
 * flush read are one activity.
 *
 * Counts, not times: a count fails the same way on a loaded machine as on a quiet one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { temporal } from '@temporalio/proto';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { guardId } from '../helpers/guard';
import { JOB, scenario } from '../helpers/scenarios';
import { vmGuardReplySignal } from '../../domain/guard-protocol';

const { EventType } = temporal.api.enums.v1;

describe('a guard on the way to its grant', () => {
  let h: Harness;
  const taskQueue = uniqueId('guard-footprint');

  before(async () => {
    h = await startHarness();
    // The worker's default guard periods: with the other guard tests' 3 s resend, a loaded machine
    // (CI) let the run ask again before the grant, and the guard took one more task for that signal.
    await h.startWorker(taskQueue);
  });
  after(async () => h?.stop());

  test('takes at most two workflow tasks and one activity (it took five and four), and writes its memo at most three times', async () => {
    // One VM with nothing to destage: its first flush read finds it flushed.
    await h.lab.client.loadScenario(scenario({ vmCount: 1, destageMs: () => 0, writeIntervalMs: 0 }));
    const report = await (await h.start(taskQueue, fastRequest(JOB))).result();
    assert.equal(report.phase, 'completed', String(report.error));

    const history = await h.env.client.workflow.getHandle(guardId('vm-01')).fetchHistory();
    const events = history.events ?? [];
    const grant = events.findIndex(
      (e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName === vmGuardReplySignal.name,
    );
    assert.ok(grant > 0, 'the guard replied to the run');
    const untilGrant = events.slice(0, grant + 1);
    const count = (type: temporal.api.enums.v1.EventType) => untilGrant.filter((e) => e.eventType === type).length;
    const figures = {
      workflowTasks: count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
      activities: count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
      searchAttributeWrites: count(EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES),
      memoWrites: count(EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED),
    };
    console.log('guard until its grant:', JSON.stringify(figures));
    assert.ok(figures.workflowTasks <= 2, `workflow tasks until the grant: ${JSON.stringify(figures)}`);
    assert.ok(figures.activities <= 1, `activities until the grant: ${JSON.stringify(figures)}`);
    // Recorded, switching, protected: one write per change an operator sees (each also upserts the
    // search attributes; every patch a guard asks for adds one more: TemporalChangeVersion).
    assert.ok(figures.memoWrites <= 3, `memo writes until the grant: ${JSON.stringify(figures)}`);
  });
});
