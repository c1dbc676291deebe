/**
 * The schedule file on its own (no server): what is accepted, what is refused and why, and that
 * every problem names its line and field.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toCalendarSpec } from '../../client/schedules/calendar';
import { cronProblem } from '../../client/schedules/cron';
import { ScheduleFileError } from '../../client/errors';
import { parseScheduleFile } from '../../client/schedules/file';
import { canonical, toScheduleOptions } from '../../client/schedules/options';
import { repoRoot } from '../helpers/tools';

function problems(text: string): string[] {
  try {
    parseScheduleFile(text, 'schedules.yaml');
  } catch (err) {
    assert.ok(err instanceof ScheduleFileError, String(err));
    return err.issues.map((i) => `${i.line ?? '-'} ${i.path}: ${i.message}`);
  }
  return assert.fail('the file was accepted');
}

const entry = (extra: string) =>
  `schedules:\n  - id: nightly\n    job: Nightly-SQL\n    spec: { cron: '0 22 * * *' }\n${extra}`;

describe('schedule file', () => {
  test('the example file is valid and fills the defaults', () => {
    const set = parseScheduleFile(
      readFileSync(join(repoRoot, 'schedules.example.yaml'), 'utf8'),
      'schedules.example.yaml',
    );
    assert.ok(set.schedules.length >= 2);
    for (const s of set.schedules) assert.ok(['SKIP', 'BUFFER_ONE', 'CANCEL_OTHER'].includes(s.overlap));
  });

  test('defaults: UTC, SKIP, not paused, no jitter; the input is job and vms plus the rest', () => {
    const set = parseScheduleFile(entry('    vms: [sql-01]\n    input: { dryRun: true }\n'), 'f.yaml');
    assert.equal(set.owner, 'schedules-as-code');
    assert.deepEqual(set.schedules[0], {
      id: 'nightly',
      job: 'Nightly-SQL',
      vms: ['sql-01'],
      spec: { cron: ['0 22 * * *'] },
      timezone: 'UTC',
      jitter: null,
      overlap: 'SKIP',
      catchupWindow: null,
      paused: false,
      request: { dryRun: true, job: 'Nightly-SQL', vms: ['sql-01'] },
    });
  });

  test('overlap: TERMINATE_OTHER, ALLOW_ALL and BUFFER_ALL are refused with the reason', () => {
    assert.deepEqual(problems(entry('    overlap: TERMINATE_OTHER\n')), [
      '5 schedules[0].overlap: TERMINATE_OTHER is refused: terminating a run skips its restore, leaving VMs in write-through (use SKIP, BUFFER_ONE or CANCEL_OTHER)',
    ]);
    assert.match(
      problems(entry('    overlap: ALLOW_ALL\n'))[0] ?? '',
      /ALLOW_ALL is refused: it would run two backups of one job at once/,
    );
    assert.match(problems(entry('    overlap: BUFFER_ALL\n'))[0] ?? '', /BUFFER_ALL is refused: after an outage/);
    assert.match(
      problems(entry('    overlap: sometimes\n'))[0] ?? '',
      /expected SKIP, BUFFER_ONE or CANCEL_OTHER, got "sometimes"/,
    );
  });

  test('every problem with its line and path, in line order', () => {
    const text = [
      'owner: ops', //                               1
      'schedules:', //                               2
      '  - id: ok', //                               3
      '    job: Nightly-SQL', //                     4
      "    spec: { cron: '0 22 * * *' }", //         5
      '  - id: bad id', //                           6
      "    job: ''", //                              7
      '    spec:', //                                8
      "      cron: '0 22 * *'", //                   9
      '    timezone: Mars/Olympus', //               10
      '    jitter: -5', //                           11
      '    input:', //                               12
      '      transportMode: fibre', //               13
      '      flush:', //                             14
      '        deadline: soon', //                   15
      '      password: hunter2', //                  16
      '      job: other', //                         17
      '  - id: ok', //                               18
      '    job: X', //                               19
      '    spec: { calendar: { hour: 25 } }', //     20
      '    colour: blue', //                         21
    ].join('\n');
    assert.deepEqual(problems(text), [
      '6 schedules[1].id: expected letters, digits, ".", "_" or "-" (at most 200), e.g. nightly-sql',
      '7 schedules[1].job: expected the name of a Veeam job',
      '9 schedules[1].spec.cron: expected 5 fields (minute hour day-of-month month day-of-week), got 4',
      '10 schedules[1].timezone: expected an IANA time zone such as UTC or Europe/Berlin',
      '11 schedules[1].jitter: Too small: expected number to be >0',
      '17 schedules[1].input.job: set job on the schedule, not in its input',
      '18 schedules[2].id: duplicate id ok',
      '20 schedules[2].spec.calendar.hour: 25 is out of range 0-23',
      '21 schedules[2]: Unrecognized key: "colour"',
    ]);
  });

  test('the input is checked with the workflow schema, naming input fields', () => {
    const text = entry(
      '    input:\n      transportMode: fibre\n      flush:\n        deadline: soon\n      password: hunter2\n',
    );
    assert.deepEqual(problems(text), [
      '6 schedules[0].input.transportMode: Invalid option: expected one of "auto"|"directsan"|"hotadd"|"nbd"',
      "8 schedules[0].input.flush.deadline: expected a positive duration such as '30 seconds' or '2 minutes'",
      '9 schedules[0].input: Unrecognized key: "password"',
    ]);
    assert.match(
      problems(entry('    input: { transportMode: hotadd }\n'))[0] ?? '',
      /input\.hotAddProxies: transportMode hotadd needs/,
    );
  });

  test('YAML syntax errors and duplicate ids name their line', () => {
    assert.deepEqual(problems('schedules:\n  - id: a\n    job: [unclosed\n'), [
      '4 : Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    assert.deepEqual(problems('schedules: []\nschedules: []\n'), ['2 : Map keys must be unique']);
    const dup = entry("  - id: nightly\n    job: Other\n    spec: { cron: '0 1 * * *' }\n");
    assert.deepEqual(problems(dup), ['5 schedules[1].id: duplicate id nightly']);
    assert.deepEqual(problems('schedules: 3\n'), ['1 schedules: Invalid input: expected array, received number']);
    assert.deepEqual(problems(''), ['- schedules: Invalid input: expected array, received undefined']);
  });

  test('cron: fields, ranges, steps, names, macros', () => {
    for (const ok of ['0 22 * * *', '*/15 0-6 1,15 JAN-MAR MON-FRI', '@daily', '5 4 * * sun', '0 0 1 */2 *']) {
      assert.equal(cronProblem(ok), null, ok);
    }
    assert.equal(cronProblem('60 * * * *'), 'minute: 60 is out of range 0-59');
    assert.equal(cronProblem('* * 0 * *'), 'day of month: 0 is out of range 1-31');
    assert.equal(cronProblem('* * * * 8'), 'day of week: 8 is out of range 0-6');
    assert.equal(cronProblem('5-1 * * * *'), 'minute: range 5-1 runs backwards');
    assert.equal(cronProblem('*/0 * * * *'), 'minute: step "0" must be a positive number');
    assert.equal(cronProblem('@sometimes'), 'unknown macro "@sometimes"');
    assert.equal(cronProblem('CRON_TZ=Europe/Berlin 0 22 * * *'), 'set the time zone with `timezone`, not CRON_TZ=');
    assert.match(cronProblem('0 22 * * * *') ?? '', /expected 5 fields/);
  });

  test('calendar: names, numbers and ranges become the SDK calendar spec', () => {
    assert.deepEqual(toCalendarSpec({ hour: 22, minute: 30, dayOfWeek: 'MON-FRI', month: ['jan', 7] }), {
      hour: [22],
      minute: [30],
      dayOfWeek: [{ start: 'MONDAY', end: 'FRIDAY' }],
      month: ['JANUARY', 'JULY'],
    });
    assert.deepEqual(toCalendarSpec({ dayOfMonth: '*' }), { dayOfMonth: '*' });
  });

  test('schedule options: the action starts protectedBackup with the default id and no timeouts; ownership in the memo', () => {
    const [definition] = parseScheduleFile(
      entry('    timezone: Europe/Berlin\n    jitter: 2 minutes\n    overlap: BUFFER_ONE\n    paused: true\n'),
      'f.yaml',
    ).schedules;
    assert.ok(definition);
    const options = toScheduleOptions(definition, 'q', { source: 'file', owner: 'ops' });
    assert.deepEqual(options.spec, { cronExpressions: ['0 22 * * *'], timezone: 'Europe/Berlin', jitter: '2 minutes' });
    assert.equal(options.action.workflowType, 'protectedBackup');
    assert.equal(options.action.workflowId, 'protected-backup/Nightly-SQL');
    assert.equal(options.action.workflowExecutionTimeout, undefined);
    assert.equal(options.action.workflowRunTimeout, undefined);
    assert.deepEqual(options.policies, { overlap: 'BUFFER_ONE' });
    assert.deepEqual(options.memo, { fvpbManagedBy: 'fvp-protected-backup', fvpbSource: 'file', fvpbOwner: 'ops' });
    assert.equal(options.state?.paused, true);
    assert.equal(canonical({ b: 1, a: [{ d: 1, c: 2 }] }), '{"a":[{"c":2,"d":1}],"b":1}');
  });
});
