/**
 * Schedules that would silently skip a backup on the spring-forward day: what Temporal does on
 * both DST days (the real dev server), the gap detection on its own (Europe/Rome,
 * America/New_York, UTC, zones without DST, a half-hour shift), and the warning that
 * `schedule create` and `schedule sync` print, in text and in --json.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ExitCode } from '../../client/exit-codes';
import { dstWarnings, timeGaps } from '../../client/schedules/dst';
import { parseScheduleFile } from '../../client/schedules/file';
import { uniqueId } from '../helpers/harness';
import { startDevServer } from '../helpers/temporal';
import { cliEnv, runCli } from './helpers';

/** A fixed "now", so that the next gaps are known dates. */
const DEC_2026 = new Date('2026-12-01T00:00:00Z');

const gapsOf = (zone: string) =>
  timeGaps(zone, DEC_2026).map((g) => `${g.date} ${g.from}-${g.to} ${g.at.toISOString()}`);

function schedules(...entries: { spec: string; timezone: string }[]) {
  const text = `schedules:\n${entries
    .map((e, i) => `  - { id: s${i}, job: J, spec: ${e.spec}, timezone: ${e.timezone} }`)
    .join('\n')}\n`;
  return parseScheduleFile(text, 'f.yaml').schedules;
}

/** The ids and local times that warn, as `id date times`. */
function warned(...entries: { spec: string; timezone: string }[]): string[] {
  return dstWarnings(schedules(...entries), DEC_2026).map((w) => `${w.schedule} ${w.date} ${w.times.join(',')}`);
}

describe('DST gaps', () => {
  test('the gaps of a zone in the coming year, to the minute', () => {
    assert.deepEqual(gapsOf('Europe/Rome'), ['2027-03-28 02:00-03:00 2027-03-28T01:00:00.000Z']);
    assert.deepEqual(gapsOf('America/New_York'), ['2027-03-14 02:00-03:00 2027-03-14T07:00:00.000Z']);
    assert.deepEqual(gapsOf('Australia/Lord_Howe'), ['2027-10-03 02:00-02:30 2027-10-02T15:30:00.000Z']);
    assert.deepEqual(gapsOf('UTC'), []);
    assert.deepEqual(gapsOf('Asia/Tokyo'), [], 'no DST');
    assert.deepEqual(gapsOf('Asia/Kolkata'), [], 'no DST, half-hour offset');
  });

  test('a time inside the gap warns with the date; times outside it do not', () => {
    assert.deepEqual(
      warned(
        { spec: "{ cron: '30 2 * * *' }", timezone: 'Europe/Rome' },
        { spec: "{ cron: '30 1 * * *' }", timezone: 'Europe/Rome' },
        { spec: "{ cron: '0 3 * * *' }", timezone: 'Europe/Rome' },
        { spec: "{ cron: '59 1 * * *' }", timezone: 'Europe/Rome' },
        { spec: "{ cron: '0 2 * * *' }", timezone: 'America/New_York' },
        { spec: "{ cron: '30 2 * * *' }", timezone: 'UTC' },
        { spec: "{ cron: '30 2 * * *' }", timezone: 'Asia/Tokyo' },
      ),
      ['s0 2027-03-28 02:30', 's4 2027-03-14 02:00'],
    );
  });

  test('only the days the spec fires on count; lists, ranges, steps, macros and calendars', () => {
    assert.deepEqual(
      warned(
        // 28 March 2027 is a Sunday.
        { spec: '{ calendar: { hour: 2, minute: 30, dayOfWeek: SAT } }', timezone: 'Europe/Rome' },
        { spec: '{ calendar: { hour: 2, minute: 30, dayOfWeek: SUN } }', timezone: 'Europe/Rome' },
        { spec: "{ cron: '30 2 * * MON-FRI' }", timezone: 'Europe/Rome' },
        { spec: "{ cron: '30 2 * 4-12 *' }", timezone: 'Europe/Rome' },
        { spec: "{ cron: '*/20 1-2 * * *' }", timezone: 'America/New_York' },
        { spec: "{ cron: ['0 22 * * *', '45 2 * * 0'] }", timezone: 'Europe/Rome' },
        { spec: "{ cron: '@hourly' }", timezone: 'Europe/Rome' },
        { spec: "{ cron: '@daily' }", timezone: 'Europe/Rome' },
        { spec: '{ calendar: { hour: 2 } }', timezone: 'Europe/Rome' },
      ),
      [
        's1 2027-03-28 02:30',
        's4 2027-03-14 02:00,02:20,02:40',
        's5 2027-03-28 02:45',
        's6 2027-03-28 02:00',
        's8 2027-03-28 02:00',
      ],
    );
  });

  test('the warning names the time, the zone, the date and the fix', () => {
    const [warning] = dstWarnings(schedules({ spec: "{ cron: '30 2 * * *' }", timezone: 'Europe/Rome' }), DEC_2026);
    assert.equal(
      warning?.message,
      'schedule s0: 02:30 does not exist in Europe/Rome on 2027-03-28 (the clocks jump from 02:00 to 03:00): ' +
        'Temporal starts no backup at that time that day. Pick a time outside 02:00–03:00 local, or use timezone UTC',
    );
  });
});

describe('DST days on the dev server', () => {
  let env: TestWorkflowEnvironment;
  let cli: NodeJS.ProcessEnv;
  const dir = mkdtempSync(join(tmpdir(), 'fvpb-dst-'));

  before(async () => {
    env = await startDevServer();
    // No worker polls this queue: the schedules here are created paused and never run.
    cli = cliEnv(env.address, uniqueId('dst'));
  });
  after(async () => env?.teardown());

  /** The local dates and times of the schedule's next actions, from `startAt` on. */
  async function nextLocalTimes(cron: string, timeZone: string, startAt: string): Promise<string[]> {
    const scheduleId = uniqueId('dst-days');
    await env.client.schedule.create({
      scheduleId,
      spec: { cronExpressions: [cron], timezone: timeZone, startAt: new Date(startAt) },
      action: { type: 'startWorkflow', workflowType: 'protectedBackup', taskQueue: 'nobody', args: [] },
      state: { paused: true },
    });
    const { info } = await env.client.schedule.getHandle(scheduleId).describe();
    const local = new Intl.DateTimeFormat('sv-SE', { timeZone, dateStyle: 'short', timeStyle: 'short' });
    return info.nextActionTimes.slice(0, 4).map((t) => local.format(t));
  }

  test('spring forward: a time inside the gap gets no run that day; fall back: it runs', async () => {
    assert.deepEqual(await nextLocalTimes('30 2 * * *', 'Europe/Rome', '2027-03-26T00:00:00Z'), [
      '2027-03-26 02:30',
      '2027-03-27 02:30',
      '2027-03-29 02:30',
      '2027-03-30 02:30',
    ]);
    assert.deepEqual(await nextLocalTimes('30 1 * * *', 'Europe/Rome', '2027-03-26T00:00:00Z'), [
      '2027-03-26 01:30',
      '2027-03-27 01:30',
      '2027-03-28 01:30',
      '2027-03-29 01:30',
    ]);
    const fallBack = await nextLocalTimes('30 2 * * *', 'Europe/Rome', '2027-10-30T00:00:00Z');
    assert.ok(fallBack.includes('2027-10-31 02:30'), `a run on the fall-back day: ${fallBack.join(', ')}`);
  });

  test('schedule create warns about a time in the gap, in text and in --json; not about one outside it', async () => {
    const id = uniqueId('dst-create');
    const created = await runCli(
      ['schedule', 'create', '--id', id, '--job', 'J', '--cron', '30 2 * * *', '--timezone', 'Europe/Rome', '--paused'],
      cli,
    );
    assert.equal(created.code, ExitCode.success, created.stderr);
    const next = timeGaps('Europe/Rome', new Date())[0];
    assert.ok(next, 'Europe/Rome springs forward within a year');
    assert.match(created.stdout, new RegExp(`^Created schedule ${id} `, 'm'));
    assert.match(
      created.stderr,
      new RegExp(
        `^warning: schedule ${id}: 02:30 does not exist in Europe/Rome on ${next.date} .*` +
          'Pick a time outside 02:00–03:00 local, or use timezone UTC$',
        'm',
      ),
    );

    const json = await runCli(
      [
        'schedule',
        'create',
        '--id',
        `${id}-j`,
        '--job',
        'J',
        '--cron',
        '30 2 * * *',
        '--timezone',
        'Europe/Rome',
        '--json',
      ],
      cli,
    );
    assert.equal(json.code, ExitCode.success, json.stderr);
    const doc = json.json<{ created: boolean; warnings: { schedule: string; date: string; times: string[] }[] }>();
    assert.equal(doc.created, true);
    assert.deepEqual(
      doc.warnings.map((w) => [w.schedule, w.date, w.times]),
      [[`${id}-j`, next.date, ['02:30']]],
    );
    assert.match(json.stderr, /warning: .*does not exist in Europe\/Rome/);

    const fine = await runCli(
      [
        'schedule',
        'create',
        '--id',
        `${id}-ok`,
        '--job',
        'J',
        '--cron',
        '30 3 * * *',
        '--timezone',
        'Europe/Rome',
        '--json',
      ],
      cli,
    );
    assert.equal(fine.code, ExitCode.success, fine.stderr);
    assert.deepEqual(fine.json<{ warnings: unknown[] }>().warnings, []);
    assert.equal(fine.stderr, '');
  });

  test('schedule sync warns for each declared schedule in a gap, dry run or not', async () => {
    const owner = uniqueId('dst-owner').replace(/[^A-Za-z0-9._-]/g, '-');
    const file = join(dir, 'dst.yaml');
    writeFileSync(
      file,
      `owner: ${owner}
schedules:
  - { id: ${owner}-rome, job: A, spec: { cron: '30 2 * * *' }, timezone: Europe/Rome, paused: true }
  - { id: ${owner}-utc, job: B, spec: { cron: '30 2 * * *' }, timezone: UTC, paused: true }
  - { id: ${owner}-ny, job: C, spec: { calendar: { hour: 2, minute: 15 } }, timezone: America/New_York, paused: true }
`,
    );
    const dry = await runCli(['schedule', 'sync', '--file', file, '--dry-run'], cli);
    assert.equal(dry.code, ExitCode.success, dry.stderr);
    assert.match(dry.stderr, new RegExp(`^warning: schedule ${owner}-rome: 02:30 does not exist in Europe/Rome`, 'm'));
    assert.match(
      dry.stderr,
      new RegExp(`^warning: schedule ${owner}-ny: 02:15 does not exist in America/New_York`, 'm'),
    );
    assert.doesNotMatch(dry.stderr, new RegExp(`${owner}-utc`));

    const applied = await runCli(['schedule', 'sync', '--file', file, '--json'], cli);
    assert.equal(applied.code, ExitCode.success, applied.stderr);
    const doc = applied.json<{ changes: { action: string }[]; warnings: { schedule: string }[] }>();
    assert.deepEqual(
      doc.changes.map((c) => c.action),
      ['create', 'create', 'create'],
    );
    assert.deepEqual(
      doc.warnings.map((w) => w.schedule),
      [`${owner}-rome`, `${owner}-ny`],
    );
  });
});
