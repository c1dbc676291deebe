/**
 * A bad input fails the run at once, with a message naming the field, and nothing reaches FVP or
 * Veeam. Inputs are sent untyped, as the Web UI's Start Workflow form or a script would.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { JOB, scenario } from '../helpers/scenarios';

const job = JOB;
const cases: { name: string; input: unknown; field: RegExp }[] = [
  { name: 'no input at all', input: null, field: /\(input\): .*expected object/i },
  { name: 'an array instead of an object', input: [{ job }], field: /\(input\)/ },
  { name: 'no job', input: {}, field: /input: job: .*expected string/ },
  { name: 'an empty job name', input: { job: '' }, field: /job: expected the name of a Veeam job/ },
  { name: 'a job name that is a number', input: { job: 42 }, field: /job: .*string/i },
  { name: 'vms as a string', input: { job, vms: 'sql-01' }, field: /vms: .*array/i },
  { name: 'an empty VM name', input: { job, vms: ['sql-01', ''] }, field: /vms\.1: expected a VM name/ },
  { name: 'an unknown transport mode', input: { job, transportMode: 'fibre' }, field: /transportMode: / },
  { name: 'hotadd without proxies', input: { job, transportMode: 'hotadd' }, field: /hotAddProxies: / },
  {
    name: 'a deadline that is not a duration',
    input: { job, flush: { deadline: 'soon' } },
    field: /flush\.deadline: expected a positive duration/,
  },
  { name: 'a negative poll interval', input: { job, flush: { pollInterval: -5 } }, field: /flush\.pollInterval: / },
  {
    name: 'a poll interval longer than the deadline',
    input: { job, flush: { deadline: '1 second', pollInterval: '5 seconds' } },
    field: /flush\.pollInterval: expected a poll interval shorter/,
  },
  { name: 'zero concurrency', input: { job, flush: { concurrency: 0 } }, field: /flush\.concurrency: / },
  {
    name: 'an unknown already-running policy',
    input: { job, veeam: { whenAlreadyRunning: 'fight' } },
    field: /veeam\.whenAlreadyRunning: /,
  },
  { name: 'fullBackup as a string', input: { job, veeam: { fullBackup: 'yes' } }, field: /veeam\.fullBackup: / },
  { name: 'an unknown onCancel', input: { job, veeam: { onCancel: 'terminate' } }, field: /veeam\.onCancel: / },
  {
    name: 'zero retry attempts',
    input: { job, timeouts: { retryMaximumAttempts: 0 } },
    field: /timeouts\.retryMaximumAttempts: /,
  },
  { name: 'dryRun as a string', input: { job, dryRun: 'true' }, field: /dryRun: / },
  // Bounds (README "Limits"): each refusal names the field and its range.
  {
    name: "a '30 days' heartbeat",
    input: { job, timeouts: { heartbeat: '30 days' } },
    field: /timeouts\.heartbeat: expected a duration between 1 second and 10 minutes/,
  },
  {
    name: 'a 1 ms heartbeat',
    input: { job, timeouts: { heartbeat: 1 } },
    field: /timeouts\.heartbeat: expected a duration between 1 second and 10 minutes/,
  },
  {
    name: 'a 1 ms step',
    input: { job, timeouts: { step: '1ms' } },
    field: /timeouts\.step: expected a duration between 10 seconds and 24 hours/,
  },
  {
    name: "a '30 days' Veeam poll interval (a 1 ms timer in Node)",
    input: { job, veeam: { pollInterval: '30 days' } },
    field: /veeam\.pollInterval: expected a duration between 100 ms and 10 minutes/,
  },
  {
    name: 'a Veeam job allowed to run for a month',
    input: { job, veeam: { maxDuration: '30 days' } },
    field: /veeam\.maxDuration: expected a duration between 1 minute and 7 days/,
  },
  {
    name: 'a first retry interval longer than restoreMaxInterval',
    input: { job, timeouts: { retryInitialInterval: '5 minutes', restoreMaxInterval: '1 minute' } },
    field: /timeouts\.retryInitialInterval: expected at most restoreMaxInterval/,
  },
  {
    name: 'a heartbeat as long as the step',
    input: { job, timeouts: { heartbeat: '1 minute', step: '1 minute' } },
    field: /timeouts\.heartbeat: expected a heartbeat timeout shorter than the step timeout/,
  },
  {
    name: 'a 2000-character job name',
    input: { job: 'x'.repeat(2000) },
    field: /job: expected a Veeam job name of at most 962 bytes in UTF-8/,
  },
  {
    name: 'a 1 MB job name pasted into the Web UI',
    input: { job: 'x'.repeat(1_000_000) },
    field: /job: expected a Veeam job name of at most 962 bytes in UTF-8/,
  },
  {
    name: 'a job name of 962 characters but more bytes',
    input: { job: 'é'.repeat(962) },
    field: /job: expected a Veeam job name of at most 962 bytes in UTF-8/,
  },
  {
    name: 'a VM name over 8192 characters',
    input: { job, vms: ['v'.repeat(8193)] },
    field: /vms\.0: expected a VM name of at most 8192 characters/,
  },
  { name: 'a password field', input: { job, password: 'hunter2' }, field: /Unrecognized key.*"password"/ },
  {
    name: 'a credentials object',
    input: { job, credentials: { user: 'a', password: 'b' } },
    field: /Unrecognized key.*"credentials"/,
  },
  {
    name: 'an unknown nested field',
    input: { job, flush: { deadlin: '1 minute' } },
    field: /flush: Unrecognized key.*"deadlin"/,
  },
];

describe('malformed protectedBackup inputs', () => {
  let h: Harness;
  const taskQueue = uniqueId('input');

  before(async () => {
    h = await startHarness(scenario());
    await h.startWorker(taskQueue);
    // Warm the worker up with one valid dry run, so the timings below measure validation only.
    await (await h.start(taskQueue, fastRequest(JOB, { dryRun: true }))).result();
  });
  after(async () => h?.stop());

  for (const { name, input, field } of cases) {
    test(`${name}: fails in under 2 s naming the field, and nothing reaches the lab`, async () => {
      const { nextSeq } = await h.lab.client.invocations();
      const started = Date.now();
      const handle = await h.start(taskQueue, input);
      const err = await handle.result().then(
        () => assert.fail('the run should have failed'),
        (e: unknown) => e,
      );
      const elapsed = Date.now() - started;
      assert.ok(err instanceof WorkflowFailedError);
      const cause = err.cause as { message: string; type?: string };
      assert.equal(cause.type, 'InvalidInput');
      assert.match(cause.message, field);
      assert.ok(cause.message.length < 2000, 'the message does not echo the input');
      assert.ok(elapsed < 2000, `failed after ${elapsed} ms`);
      const { invocations } = await h.lab.client.invocations({ sinceSeq: nextSeq });
      assert.deepEqual(
        invocations.map((i) => i.op),
        [],
        'no operation reached FVP or Veeam',
      );
    });
  }
});
