/**
 * Every duration and string of the inputs is bounded, each with a message naming the field and the
 * range: nothing reaches a Node timer beyond 2^31 ms (Node fires it after 1 ms), no heartbeat is
 * shorter than a second, and no job name makes a workflow id longer than Temporal allows. Every
 * default, every edge of every range and every input the recorded histories carry stays valid.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  boundedDuration,
  DAY,
  DurationInput,
  durationMs,
  formatMs,
  HOUR,
  MINUTE,
  NODE_TIMER_MAX_MS,
  SECOND,
} from '../../domain/duration';
import { describeZodError } from '../../domain/zod-issues';
import {
  DURATION_BOUNDS,
  MAX_JOB_NAME_BYTES,
  MAX_VM_NAME_CHARS,
  ProtectedBackupInput,
  SCHEDULED_ID_SUFFIX_EXAMPLE,
  SetVadpBlacklistInput,
  TEMPORAL_MAX_ID_BYTES,
  utf8ByteLength,
} from '../../workflows/input';
import { ReconcileInput } from '../../workflows/reconcile-policies';
import { ID_PREFIX, jobOf, workflowIdFor } from '../../client/ids';
import { InvalidInputError } from '../../client/errors';
import { validateRequest } from '../../client/runs';
import { ExitCode } from '../../client/exit-codes';
import { cliEnv, runCli } from '../client/helpers';

const JOB = 'Nightly-SQL';

function problems(schema: z.ZodType, input: unknown): string {
  const parsed = schema.safeParse(input);
  return parsed.success ? '' : describeZodError(parsed.error);
}

function assertRefused(schema: z.ZodType, input: unknown, message: RegExp): void {
  const text = problems(schema, input);
  assert.notEqual(text, '', `expected ${JSON.stringify(input).slice(0, 200)} to be refused`);
  assert.match(text, message);
}

function assertAccepted(schema: z.ZodType, input: unknown): void {
  assert.equal(problems(schema, input), '', `expected ${JSON.stringify(input).slice(0, 200)} to be accepted`);
}

/** Each duration field: its range as the message states it, and an input that sets it with compatible neighbours. */
const FIELDS: {
  path: string;
  bounds: keyof typeof DURATION_BOUNDS;
  range: [number, number];
  text: string;
  input: (value: string | number) => Record<string, unknown>;
}[] = [
  {
    path: 'timeouts.heartbeat',
    bounds: 'heartbeat',
    range: [SECOND, 10 * MINUTE],
    text: '1 second and 10 minutes',
    input: (heartbeat) => ({ timeouts: { heartbeat, step: '1 hour' } }),
  },
  {
    path: 'timeouts.step',
    bounds: 'step',
    range: [10 * SECOND, 24 * HOUR],
    text: '10 seconds and 24 hours',
    input: (step) => ({ timeouts: { step, heartbeat: '5 seconds' } }),
  },
  {
    path: 'timeouts.retryInitialInterval',
    bounds: 'retryInitialInterval',
    range: [100, 10 * MINUTE],
    text: '100 ms and 10 minutes',
    input: (retryInitialInterval) => ({ timeouts: { retryInitialInterval, restoreMaxInterval: '1 hour' } }),
  },
  {
    path: 'timeouts.restoreMaxInterval',
    bounds: 'restoreMaxInterval',
    range: [SECOND, HOUR],
    text: '1 second and 1 hour',
    input: (restoreMaxInterval) => ({ timeouts: { restoreMaxInterval, retryInitialInterval: '100ms' } }),
  },
  {
    path: 'timeouts.restoreHandOverAfter',
    bounds: 'restoreHandOverAfter',
    range: [SECOND, 24 * HOUR],
    text: '1 second and 24 hours',
    input: (restoreHandOverAfter) => ({ timeouts: { restoreHandOverAfter } }),
  },
  {
    path: 'flush.deadline',
    bounds: 'flushDeadline',
    range: [SECOND, 24 * HOUR],
    text: '1 second and 24 hours',
    input: (deadline) => ({ flush: { deadline, pollInterval: '100ms' } }),
  },
  {
    path: 'flush.pollInterval',
    bounds: 'flushPollInterval',
    range: [100, HOUR],
    text: '100 ms and 1 hour',
    input: (pollInterval) => ({ flush: { pollInterval, deadline: '24 hours' } }),
  },
  {
    path: 'veeam.pollInterval',
    bounds: 'veeamPollInterval',
    range: [100, 10 * MINUTE],
    text: '100 ms and 10 minutes',
    input: (pollInterval) => ({ veeam: { pollInterval } }),
  },
  {
    path: 'veeam.maxDuration',
    bounds: 'veeamMaxDuration',
    range: [MINUTE, 7 * DAY],
    text: '1 minute and 7 days',
    input: (maxDuration) => ({ veeam: { maxDuration } }),
  },
];

describe('durations of protectedBackup', () => {
  test('the table covers every bounded field, with the ranges the README states', () => {
    assert.deepEqual(Object.keys(DURATION_BOUNDS).sort(), FIELDS.map((f) => f.bounds).sort());
    for (const f of FIELDS) assert.deepEqual(DURATION_BOUNDS[f.bounds], f.range, f.path);
  });

  test("'30 days' as a heartbeat is refused, naming timeouts.heartbeat and its range", () => {
    assert.equal(
      problems(ProtectedBackupInput, { job: JOB, timeouts: { heartbeat: '30 days' } }),
      'timeouts.heartbeat: expected a duration between 1 second and 10 minutes',
    );
  });

  test('a 1 ms heartbeat is refused, as a number or as a string', () => {
    for (const heartbeat of [1, '1ms', '999ms']) {
      assert.equal(
        problems(ProtectedBackupInput, { job: JOB, timeouts: { heartbeat } }),
        'timeouts.heartbeat: expected a duration between 1 second and 10 minutes',
      );
    }
  });

  for (const f of FIELDS) {
    const [min, max] = f.range;
    test(`${f.path}: ${formatMs(min)} and ${formatMs(max)} are accepted, just outside is refused naming the field and the range`, () => {
      const message = new RegExp(`^${f.path.replace('.', '\\.')}: expected a duration between ${f.text}$`);
      for (const edge of [min, max, formatMs(min), formatMs(max)]) {
        assertAccepted(ProtectedBackupInput, { job: JOB, ...f.input(edge) });
      }
      for (const outside of [min - 1, max + 1, `${max + 1}ms`, '30 days', '365 days']) {
        assertRefused(ProtectedBackupInput, { job: JOB, ...f.input(outside) }, message);
      }
      assertRefused(
        ProtectedBackupInput,
        { job: JOB, ...f.input('soon') },
        new RegExp(`${f.path}: expected a positive duration`),
      );
    });
  }

  test('nothing that reaches a Node timer can exceed 2^31 - 1 ms, not even the longest wait plus a step', () => {
    for (const [name, [, max]] of Object.entries(DURATION_BOUNDS)) assert.ok(max <= NODE_TIMER_MAX_MS, name);
    assert.ok(DURATION_BOUNDS.veeamMaxDuration[1] + DURATION_BOUNDS.step[1] <= NODE_TIMER_MAX_MS);
    assert.throws(() => boundedDuration(SECOND, NODE_TIMER_MAX_MS + 1), RangeError);
    assert.throws(() => boundedDuration(0, SECOND), RangeError);
    // Node's own limit, as the review demonstrated it: a longer delay fires after 1 ms.
    assert.equal(NODE_TIMER_MAX_MS, 2_147_483_647);
  });

  test('the heartbeat must be shorter than the step', () => {
    assert.equal(
      problems(ProtectedBackupInput, { job: JOB, timeouts: { heartbeat: '1 minute', step: '1 minute' } }),
      'timeouts.heartbeat: expected a heartbeat timeout shorter than the step timeout',
    );
  });

  test('the first retry interval may not exceed restoreMaxInterval (Temporal would refuse the retry policy)', () => {
    assertRefused(
      ProtectedBackupInput,
      { job: JOB, timeouts: { retryInitialInterval: '2 minutes', restoreMaxInterval: '1 minute' } },
      /^timeouts\.retryInitialInterval: expected at most restoreMaxInterval/,
    );
    assertAccepted(ProtectedBackupInput, {
      job: JOB,
      timeouts: { retryInitialInterval: '1 minute', restoreMaxInterval: '1 minute' },
    });
  });

  test('the cross-field checks hold for every schema that reuses the timeouts shape', () => {
    const reused = z.object({ timeouts: ProtectedBackupInput.shape.timeouts });
    assertRefused(reused, { timeouts: { heartbeat: '10 minutes', step: '5 minutes' } }, /timeouts\.heartbeat/);
    assertRefused(reused, { timeouts: { heartbeat: '30 days' } }, /timeouts\.heartbeat: expected a duration between/);
  });

  test('the poll interval must still be shorter than the flush deadline', () => {
    assert.equal(
      problems(ProtectedBackupInput, { job: JOB, flush: { deadline: '10 minutes', pollInterval: '1 hour' } }),
      'flush.pollInterval: expected a poll interval shorter than the flush deadline',
    );
  });

  test('every default is valid, and stays valid when sent back explicitly', () => {
    const defaults = ProtectedBackupInput.parse({ job: JOB });
    assert.deepEqual(ProtectedBackupInput.parse(defaults), defaults);
    for (const f of FIELDS) {
      const [section, key] = f.path.split('.') as [keyof typeof defaults, string];
      const value = (defaults[section] as Record<string, string | number>)[key] as string | number;
      const ms = durationMs(value);
      assert.ok(ms >= f.range[0] && ms <= f.range[1], `${f.path} default ${value}`);
    }
    const vadp = SetVadpBlacklistInput.parse({ proxies: ['proxy-01'] });
    assert.deepEqual(SetVadpBlacklistInput.parse(vadp), vadp);
    const reconcile = ReconcileInput.parse({});
    assert.deepEqual(ReconcileInput.parse(reconcile), reconcile);
  });

  test("the reconciler's answerTimeout is bounded (1 second to 30 minutes)", () => {
    const message = /^answerTimeout: expected a duration between 1 second and 30 minutes$/;
    for (const edge of ['1 second', '30 minutes']) assertAccepted(ReconcileInput, { answerTimeout: edge });
    for (const outside of ['999ms', '31 minutes', '30 days'])
      assertRefused(ReconcileInput, { answerTimeout: outside }, message);
  });

  test('the general DurationInput (schedule jitter, catch-up window) is positive and at most 10 years', () => {
    assertAccepted(DurationInput, '365 days');
    assertRefused(DurationInput, '11 years', /expected a duration between 1 ms and 3650 days/);
    assertRefused(DurationInput, 0, /^\(input\): Too small: expected number to be >0$/);
    assertRefused(
      DurationInput,
      'soon',
      /^\(input\): expected a positive duration such as '30 seconds' or '2 minutes'$/,
    );
  });
});

describe('histories', () => {
  const dir = join(__dirname, '..', 'fixtures', 'histories');
  type Payload = { data?: string };
  type Event = {
    eventType: string;
    workflowExecutionStartedEventAttributes?: { workflowType: { name: string }; input?: { payloads: Payload[] } };
  };
  const inputOf = (payloads: Payload[] | undefined): unknown =>
    payloads?.[0]?.data ? JSON.parse(Buffer.from(payloads[0].data, 'base64').toString('utf8')) : undefined;

  test('every input a recorded history carries is still accepted (invalid-input histories stay refused on job)', () => {
    let checked = 0;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const { events } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { events: Event[] };
      const started = events[0]?.workflowExecutionStartedEventAttributes;
      if (!started) continue;
      const input = inputOf(started.input?.payloads);
      if (started.workflowType.name === 'protectedBackup') {
        if (file.includes('invalid-input'))
          assertRefused(ProtectedBackupInput, input, /^job: expected the name of a Veeam job$/);
        else assertAccepted(ProtectedBackupInput, input);
        checked += 1;
      } else if (started.workflowType.name === 'reconcilePolicies') {
        assertAccepted(ReconcileInput, input ?? {});
        checked += 1;
      }
    }
    assert.ok(checked >= 10, `only ${checked} inputs found`);
  });
});

describe('job names and workflow ids', () => {
  const long = 'x'.repeat(2000);
  const jobMessage = /^job: expected a Veeam job name of at most 962 bytes in UTF-8/;

  test("the bound is computed from the ids: 1000 - 'protected-backup/' - '-2009-11-10T23:00:00Z'", () => {
    assert.equal(TEMPORAL_MAX_ID_BYTES, 1000);
    assert.equal(ID_PREFIX, 'protected-backup/');
    assert.equal(MAX_JOB_NAME_BYTES, 1000 - ID_PREFIX.length - SCHEDULED_ID_SUFFIX_EXAMPLE.length);
    assert.equal(MAX_JOB_NAME_BYTES, 962);
  });

  test('a 2000-character job is refused naming job', () => {
    assertRefused(ProtectedBackupInput, { job: long }, jobMessage);
    assert.equal(problems(ProtectedBackupInput, { job: long }).split('; ').length, 1, 'one problem, on job');
  });

  test('the bound counts UTF-8 bytes, as the Temporal server does', () => {
    for (const [job, ok] of [
      ['x'.repeat(962), true],
      ['x'.repeat(963), false],
      ['é'.repeat(481), true], // 962 bytes
      ['é'.repeat(482), false],
      ['🚀'.repeat(240) + 'ab', true], // 960 + 2 bytes
      ['🚀'.repeat(240) + 'abc', false],
    ] as const) {
      if (ok) assertAccepted(ProtectedBackupInput, { job });
      else assertRefused(ProtectedBackupInput, { job }, jobMessage);
    }
    for (const text of [
      '',
      'abc',
      'é',
      '🚀',
      '\ud800',
      'a\udc00b',
      `'"$(\`;|&<#>\r\n\t‘’“”🚀é`,
      '\u0085\u009b\u007f',
    ]) {
      assert.equal(utf8ByteLength(text), Buffer.byteLength(text, 'utf8'), JSON.stringify(text));
    }
  });

  test("the longest valid job's ids, direct and scheduled, fit Temporal's limit exactly", () => {
    for (const job of ['x'.repeat(962), '🚀'.repeat(240) + 'ab', 'é'.repeat(481)]) {
      const id = workflowIdFor(job);
      const scheduled = `${id}${SCHEDULED_ID_SUFFIX_EXAMPLE}`;
      assert.ok(Buffer.byteLength(id) <= TEMPORAL_MAX_ID_BYTES);
      assert.equal(Buffer.byteLength(scheduled), TEMPORAL_MAX_ID_BYTES);
      assert.equal(jobOf(scheduled, undefined), job);
    }
  });

  test('workflowIdFor refuses a job whose ids would be too long, naming job', () => {
    for (const job of [long, 'x'.repeat(963), 'é'.repeat(482)]) {
      assert.throws(
        () => workflowIdFor(job),
        (err: unknown) =>
          err instanceof InvalidInputError &&
          /^invalid protectedBackup input: job: expected a Veeam job name/.test(err.message),
      );
    }
  });

  test('the client refuses a 2000-character job before anything is started', () => {
    assert.throws(
      () => validateRequest({ job: long }),
      (err: unknown) =>
        err instanceof InvalidInputError && /job: expected a Veeam job name of at most 962 bytes/.test(err.message),
    );
  });

  test('the CLI refuses a 2000-character job with exit 2, naming job, without reaching Temporal', async () => {
    // Nothing listens on port 1: a start that tried to connect would fail with exit 1, not 2.
    const env = cliEnv('127.0.0.1:1', 'input-bounds');
    const result = await runCli(['start', '--job', long], env);
    assert.equal(result.code, ExitCode.usage, result.stderr);
    assert.match(result.stderr, /job: expected a Veeam job name of at most 962 bytes in UTF-8/);
    assert.ok(!result.stderr.includes(long), 'the name is not echoed back');
  });

  test(`VM names: ${MAX_VM_NAME_CHARS} characters accepted, one more refused naming the VM`, () => {
    assertAccepted(ProtectedBackupInput, { job: JOB, vms: ['v'.repeat(MAX_VM_NAME_CHARS)] });
    assertRefused(
      ProtectedBackupInput,
      { job: JOB, vms: ['sql-01', 'v'.repeat(MAX_VM_NAME_CHARS + 1)] },
      /^vms\.1: expected a VM name of at most 8192 characters$/,
    );
    assertRefused(
      SetVadpBlacklistInput,
      { proxies: ['p'.repeat(MAX_VM_NAME_CHARS + 1)] },
      /^proxies\.0: expected a VM name of at most 8192 characters$/,
    );
  });
});
