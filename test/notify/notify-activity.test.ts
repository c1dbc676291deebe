/**
 * The `notify` activity against real receivers on 127.0.0.1: an SMTP server with AUTH
 * (smtp-server) and HTTP webhook receivers (node:http), run in an activity context
 * (MockActivityEnvironment). Every event reaches every channel in its format; a key is sent once
 * per channel however often the activity is retried; a failing channel fails the activity
 * retryably and the retry sends only what is missing; no secret appears anywhere.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, type LogLevel, type LogMetadata, type Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  createNotifyActivities,
  INVALID_NOTIFICATION,
  NOTIFICATION_FAILED,
  Secret,
  type NotifySettings,
} from '../../activities/notify';
import {
  NotificationEvent,
  notificationKey,
  type NotificationEventInput,
  type NotifyResult,
} from '../../domain/notification';
import { startHttpReceiver, startSmtpReceiver, type HttpReceiver, type SmtpReceiver } from './receivers';

const SMTP_USER = 'svc-notify';
const SMTP_PASSWORD = 'Sm7p!pa$$-`"\'-never-shown';
/** What a real webhook URL carries in its path: the token. */
const TOKEN = 'T0KEN-b1a2c3d4e5f6-never-shown';
const WORKFLOW = { workflowId: 'protected-backup/Nightly-SQL', runId: 'run-1' };
const AT = '2026-12-01T02:00:00.000Z';

function events(suffix: string): NotificationEventInput[] {
  const key = (kind: NotificationEventInput['kind'], vm?: string) =>
    notificationKey({ ...WORKFLOW, runId: `${WORKFLOW.runId}-${suffix}`, kind, vm });
  return [
    {
      kind: 'run-failed',
      key: key('run-failed'),
      at: AT,
      ...WORKFLOW,
      job: 'Nightly-SQL',
      vms: ['sql-01', 'app-01'],
      failure: { type: 'FlushTimeout', message: 'sql-01 did not flush within 10 minutes (42 s left)' },
    },
    {
      kind: 'run-warning',
      key: key('run-warning'),
      at: AT,
      ...WORKFLOW,
      job: 'Nightly-SQL',
      warnings: ['Veeam reported result Warning for app-01'],
    },
    { kind: 'run-cancelled', key: key('run-cancelled'), at: AT, ...WORKFLOW, job: 'Nightly-SQL', vms: ['sql-01'] },
    {
      kind: 'restore-failing',
      key: key('restore-failing', 'sql-01'),
      at: AT,
      ...WORKFLOW,
      vm: 'sql-01',
      attempts: 7,
      since: '2026-12-01T01:30:00.000Z',
      lastError: 'FVP management server unreachable',
    },
    {
      kind: 'backed-up-unprotected',
      key: key('backed-up-unprotected', 'web-01'),
      at: AT,
      ...WORKFLOW,
      vm: 'web-01',
      job: 'Nightly-SQL',
      session: 'session-77',
    },
    {
      kind: 'reconciler-fixed',
      key: key('reconciler-fixed'),
      at: AT,
      workflowId: 'reconcile-policies',
      vms: ['sql-01', '<b>odd & name</b>'],
    },
  ];
}

/** A logger that keeps every line, to look for secrets in. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: LogLevel, message: string, meta?: LogMetadata) =>
    lines.push(`${level} ${message} ${JSON.stringify(meta ?? {})}`);
  return {
    lines,
    log,
    trace: (m, meta) => log('TRACE', m, meta),
    debug: (m, meta) => log('DEBUG', m, meta),
    info: (m, meta) => log('INFO', m, meta),
    warn: (m, meta) => log('WARN', m, meta),
    error: (m, meta) => log('ERROR', m, meta),
  };
}

describe('the notify activity', () => {
  let smtp: SmtpReceiver;
  let json: HttpReceiver;
  let slack: HttpReceiver;
  let teams: HttpReceiver;
  let logger: ReturnType<typeof recordingLogger>;
  let counter = 0;

  before(async () => {
    [smtp, json, slack, teams] = await Promise.all([
      startSmtpReceiver({ user: SMTP_USER, password: SMTP_PASSWORD }),
      startHttpReceiver(),
      startHttpReceiver(),
      startHttpReceiver(),
    ]);
  });
  after(async () => {
    await Promise.all([smtp?.close(), json?.close(), slack?.close(), teams?.close()]);
  });
  beforeEach(() => {
    logger = recordingLogger();
  });

  function settings(overrides: Partial<NotifySettings> = {}, password = SMTP_PASSWORD): NotifySettings {
    return {
      webhooks: [
        { name: 'OPS_HOOK', format: 'json', url: new Secret(`${json.url}/hooks/${TOKEN}`) },
        { name: 'SLACK_HOOK', format: 'slack', url: new Secret(`${slack.url}/services/${TOKEN}`) },
        { name: 'TEAMS_HOOK', format: 'teams', url: new Secret(`${teams.url}/workflows/${TOKEN}?sig=${TOKEN}`) },
      ],
      mail: {
        host: '127.0.0.1',
        port: smtp.port,
        secure: false,
        requireTLS: false,
        user: SMTP_USER,
        password: new Secret(password),
        from: 'FVP Backups <backups@example.com>',
        to: ['ops@example.com', 'dba@example.com'],
      },
      restoreFailingAfterMs: 15 * 60_000,
      stateDir: mkdtempSync(join(tmpdir(), `fvpb-notify-${++counter}-`)),
      timeoutMs: 5000,
      ...overrides,
    };
  }

  function run(activities: ReturnType<typeof createNotifyActivities>, event: NotificationEventInput) {
    return new MockActivityEnvironment({}, { logger }).run(activities.notify, { event }) as Promise<NotifyResult>;
  }

  async function failure(promise: Promise<unknown>): Promise<ApplicationFailure> {
    const err = await promise.then(
      () => assert.fail('expected the activity to fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure, `an ApplicationFailure, got ${String(err)}`);
    return err;
  }

  function assertNoSecret(text: string, where: string) {
    for (const secret of [SMTP_PASSWORD, TOKEN, Buffer.from(SMTP_PASSWORD).toString('base64')]) {
      assert.ok(!text.includes(secret), `no secret in ${where}`);
    }
  }

  function counts() {
    return { json: json.posts.length, slack: slack.posts.length, teams: teams.posts.length, mail: smtp.mails.length };
  }

  test('every kind of event reaches every channel, each in its format', async () => {
    const activities = createNotifyActivities({ notify: settings(), now: () => new Date('2026-12-01T02:00:00Z') });
    const before = counts();
    const all = events('all');
    for (const event of all) {
      const result = await run(activities, event);
      assert.equal(result.outcome, 'sent');
      assert.deepEqual(
        result.channels.map((c) => [c.channel, c.status]),
        [
          ['webhook:OPS_HOOK', 'sent'],
          ['webhook:SLACK_HOOK', 'sent'],
          ['webhook:TEAMS_HOOK', 'sent'],
          ['mail', 'sent'],
        ],
      );
    }
    const n = all.length;
    assert.deepEqual(counts(), {
      json: before.json + n,
      slack: before.slack + n,
      teams: before.teams + n,
      mail: before.mail + n,
    });

    all.forEach((event, i) => {
      // Our JSON: the event itself, whole, with a title and the key.
      const ours = json.posts[before.json + i]!;
      assert.equal(ours.path, `/hooks/${TOKEN}`, 'posted to the configured URL');
      assert.equal(ours.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(ours.headers['idempotency-key'], encodeURIComponent(event.key));
      const body = ours.json as { source: string; kind: string; key: string; title: string; event: { vms?: unknown } };
      assert.equal(body.source, 'fvp-protected-backup');
      assert.equal(body.kind, event.kind);
      assert.equal(body.key, event.key);
      assert.deepEqual(body.event, NotificationEvent.parse(event));
      assert.equal(typeof body.title, 'string');

      // Slack: a fallback text and blocks (header, section, fields, context).
      const s = slack.posts[before.slack + i]!.json as {
        text: string;
        blocks: { type: string; text?: { type: string; text: string }; fields?: { type: string; text: string }[] }[];
      };
      assert.equal(typeof s.text, 'string');
      assert.deepEqual(
        s.blocks.map((b) => b.type),
        ['header', 'section', 'section', 'context'],
      );
      assert.equal(s.blocks[0]!.text!.type, 'plain_text');
      assert.ok(s.blocks[0]!.text!.text.length <= 150);
      assert.equal(s.blocks[1]!.text!.type, 'mrkdwn');
      assert.ok(s.blocks[2]!.fields!.length >= 1 && s.blocks[2]!.fields!.length <= 10);

      // Teams: a message with one Adaptive Card attachment.
      const t = teams.posts[before.teams + i]!.json as {
        type: string;
        attachments: { contentType: string; content: { type: string; version: string; body: { type: string }[] } }[];
      };
      assert.equal(t.type, 'message');
      assert.equal(t.attachments.length, 1);
      assert.equal(t.attachments[0]!.contentType, 'application/vnd.microsoft.card.adaptive');
      assert.equal(t.attachments[0]!.content.type, 'AdaptiveCard');
      assert.deepEqual(
        t.attachments[0]!.content.body.map((b) => b.type),
        ['TextBlock', 'TextBlock', 'FactSet'],
      );

      // Mail: to every recipient, authenticated, with a Message-ID derived from the key.
      const mail = smtp.mails[before.mail + i]!;
      assert.equal(mail.from, 'backups@example.com');
      assert.deepEqual(mail.to, ['ops@example.com', 'dba@example.com']);
      assert.match(mail.headers['subject']!, /^\[fvp-protected-backup\] /);
      assert.match(mail.headers['message-id']!, /^<[0-9a-f]{40}\.fvpb@example\.com>$/);
      assert.equal(mail.headers['x-fvpb-idempotency-key'], encodeURIComponent(event.key));
      assert.equal(mail.headers['x-fvpb-event'], event.kind);
      assert.ok(mail.text.includes(`Idempotency key: ${event.key}`));
    });
    assert.ok(smtp.logins.every((u) => u === SMTP_USER));

    // What each kind says, in every format.
    const failed = json.posts[before.json]!.json as { title: string; text: string };
    assert.equal(failed.title, 'Backup of Nightly-SQL failed');
    assert.equal(failed.text, 'FlushTimeout: sql-01 did not flush within 10 minutes (42 s left)');
    const restoring = smtp.mails[before.mail + 3]!;
    assert.equal(restoring.headers['subject'], '[fvp-protected-backup] Restore of sql-01 failing for 30 minutes');
    assert.match(restoring.text, /after 7 restore attempts/);
    assert.match(restoring.text, /FVP management server unreachable/);
    const unprotected = slack.posts[before.slack + 4]!.json as { blocks: { text?: { text: string } }[] };
    assert.match(unprotected.blocks[1]!.text!.text, /session-77 of job Nightly-SQL read web-01/);
    // Slack's control characters in names are escaped, not interpreted.
    const fixed = slack.posts[before.slack + 5]!.json as { blocks: { text?: { text: string } }[] };
    assert.match(fixed.blocks[1]!.text!.text, /&lt;b&gt;odd &amp; name&lt;\/b&gt;/);
  });

  test('the same key is sent once per channel, however often the activity runs', async () => {
    const s = settings();
    const event = events('twice')[0]!;
    const before = counts();
    const first = await run(createNotifyActivities({ notify: s }), event);
    assert.ok(first.channels.every((c) => c.status === 'sent'));
    // A retry in the same worker, and one after a worker restart (a new factory over the same state dir).
    for (const activities of [createNotifyActivities({ notify: s }), createNotifyActivities({ notify: s })]) {
      const again = await run(activities, event);
      assert.equal(again.outcome, 'sent');
      assert.ok(again.channels.every((c) => c.status === 'already-sent'));
    }
    assert.deepEqual(counts(), {
      json: before.json + 1,
      slack: before.slack + 1,
      teams: before.teams + 1,
      mail: before.mail + 1,
    });
    // Concurrent attempts with one key (a retry overlapping a slow first attempt) still send once.
    const concurrent = events('concurrent')[1]!;
    const activities = createNotifyActivities({ notify: s });
    const results = await Promise.all([run(activities, concurrent), run(activities, concurrent)]);
    assert.deepEqual(results.map((r) => r.channels.filter((c) => c.status === 'sent').length).sort(), [0, 4]);
    assert.equal(json.posts.length, before.json + 2);
  });

  test('a failing channel fails the activity retryably; the retry sends only what is missing', async () => {
    const flaky = await startHttpReceiver((n) => (n === 0 ? 503 : 200));
    try {
      const s = settings({
        webhooks: [
          { name: 'FLAKY_HOOK', format: 'slack', url: new Secret(`${flaky.url}/services/${TOKEN}`) },
          { name: 'OPS_HOOK', format: 'json', url: new Secret(`${json.url}/hooks/${TOKEN}`) },
        ],
      });
      const event = events('flaky')[0]!;
      const before = counts();
      const activities = createNotifyActivities({ notify: s });

      const err = await failure(run(activities, event));
      assert.equal(err.type, NOTIFICATION_FAILED);
      assert.equal(err.nonRetryable, false, 'Temporal retries it');
      assert.match(err.message, /not delivered to 1 of 3 channels/);
      assert.match(err.message, /webhook FLAKY_HOOK \(slack\): HTTP 503: receiver unavailable/);
      assert.match(err.message, /delivered: webhook:OPS_HOOK, mail/);
      assertNoSecret(err.message, 'the error');
      assert.deepEqual(counts(), { ...before, json: before.json + 1, mail: before.mail + 1 });
      assert.equal(flaky.posts.length, 0);

      // Temporal's retry: only the failed channel sends.
      const retry = await run(activities, event);
      assert.deepEqual(
        retry.channels.map((c) => [c.channel, c.status]),
        [
          ['webhook:FLAKY_HOOK', 'sent'],
          ['webhook:OPS_HOOK', 'already-sent'],
          ['mail', 'already-sent'],
        ],
      );
      assert.equal(flaky.posts.length, 1);
      assert.equal(flaky.posts[0]!.headers['idempotency-key'], encodeURIComponent(event.key));
      assert.deepEqual(counts(), { ...before, json: before.json + 1, mail: before.mail + 1 });
      assertNoSecret(logger.lines.join('\n'), 'the logs');
    } finally {
      await flaky.close();
    }
  });

  test('a refused SMTP login and an unreachable webhook fail retryably, and say so without their secrets', async () => {
    const closed = await startHttpReceiver();
    const deadUrl = `${closed.url}/hooks/${TOKEN}`;
    await closed.close();
    const wrongPassword = `${SMTP_PASSWORD}-wrong`;
    const s = settings({ webhooks: [{ name: 'DEAD_HOOK', format: 'json', url: new Secret(deadUrl) }] }, wrongPassword);
    const before = counts();
    const err = await failure(run(createNotifyActivities({ notify: s }), events('refused')[2]!));
    assert.equal(err.type, NOTIFICATION_FAILED);
    assert.equal(err.nonRetryable, false);
    assert.match(err.message, /webhook DEAD_HOOK \(json\): connection failed \(ECONNREFUSED\)/);
    assert.match(err.message, /mail via 127\.0\.0\.1:\d+: EAUTH: /);
    assertNoSecret(err.message, 'the error');
    assert.ok(!err.message.includes(wrongPassword) && !err.message.includes(deadUrl));
    const logs = logger.lines.join('\n');
    assert.match(logs, /notification not delivered everywhere/);
    assertNoSecret(logs, 'the logs');
    assert.deepEqual(counts(), before);
  });

  test('a webhook that does not answer fails the send after the channel timeout, retryably', async () => {
    const silent = await startHttpReceiver(() => 'never');
    try {
      const s = settings({
        webhooks: [{ name: 'SILENT_HOOK', format: 'teams', url: new Secret(`${silent.url}/workflows/${TOKEN}`) }],
        mail: undefined,
        timeoutMs: 1000,
      });
      const err = await failure(run(createNotifyActivities({ notify: s }), events('silent')[1]!));
      assert.equal(err.type, NOTIFICATION_FAILED);
      assert.equal(err.nonRetryable, false);
      assert.match(err.message, /webhook SILENT_HOOK \(teams\): no answer within 1 second\b/);
      assertNoSecret(err.message, 'the error');
      assert.equal(silent.requests, 1);
    } finally {
      await silent.close();
    }
  });

  test('a state dir it cannot write in fails the activity before anything is sent, and says where', async () => {
    const notADir = join(mkdtempSync(join(tmpdir(), 'fvpb-notify-file-')), 'plain-file');
    writeFileSync(notADir, 'not a directory');
    const s = settings({ stateDir: notADir, mail: undefined, webhooks: settings().webhooks.slice(0, 1) });
    const before = counts();
    const err = await failure(run(createNotifyActivities({ notify: s }), events('no-state')[0]!));
    assert.equal(err.type, NOTIFICATION_FAILED);
    assert.equal(err.nonRetryable, false);
    assert.match(err.message, /webhook OPS_HOOK \(json\): cannot read its record of sent notifications \(ENOTDIR: /);
    assert.ok(err.message.includes(notADir));
    assert.deepEqual(counts(), before, 'nothing sent that could not be recorded');
  });

  test('no secret in any body, mail, log line or record', async () => {
    const s = settings();
    const before = counts();
    for (const event of events('secrets')) await run(createNotifyActivities({ notify: s }), event);
    const sent = [
      ...json.posts.slice(before.json),
      ...slack.posts.slice(before.slack),
      ...teams.posts.slice(before.teams),
    ].map((p) => p.body);
    assert.equal(sent.length, 18);
    for (const body of sent) assertNoSecret(body, 'a webhook body');
    for (const mail of smtp.mails.slice(before.mail)) assertNoSecret(mail.raw, 'a mail');
    assertNoSecret(logger.lines.join('\n'), 'the logs');
    assert.match(logger.lines.join('\n'), /notification delivered/);
    for (const file of readdirSync(s.stateDir)) assertNoSecret(readFileSync(join(s.stateDir, file), 'utf8'), file);
    // The settings themselves print as redacted.
    assertNoSecret(JSON.stringify(s), 'the settings as JSON');
    assertNoSecret(String(s.webhooks[0]!.url), 'a URL as a string');
  });

  test('a restore-failing event younger than the threshold is deferred, then sent once', async () => {
    let now = new Date('2026-12-01T01:40:00Z');
    const s = settings();
    const activities = createNotifyActivities({ notify: s, now: () => now });
    const event = events('deferred')[3]!; // failing since 01:30, threshold 15 minutes
    const before = counts();
    const early: NotifyResult = await run(activities, event);
    assert.equal(early.outcome, 'deferred');
    assert.equal(early.notBefore, '2026-12-01T01:45:00.000Z');
    assert.deepEqual(early.channels, []);
    assert.deepEqual(counts(), before);
    now = new Date('2026-12-01T01:46:00Z');
    const due = await run(activities, event);
    assert.equal(due.outcome, 'sent');
    assert.deepEqual(counts(), {
      json: before.json + 1,
      slack: before.slack + 1,
      teams: before.teams + 1,
      mail: before.mail + 1,
    });
    assert.equal(
      smtp.mails.at(-1)!.headers['subject'],
      '[fvp-protected-backup] Restore of sql-01 failing for 16 minutes',
    );
  });

  test('the record of sent keys is one small JSON file per channel, bounded, written atomically', async () => {
    const s = settings({ rememberedKeys: 3, mail: undefined, webhooks: settings().webhooks.slice(0, 1) });
    const activities = createNotifyActivities({ notify: s });
    const all = events('bounded');
    for (const event of all) await run(activities, event);
    const files = readdirSync(s.stateDir);
    assert.equal(files.length, 1, `one file, no temporary left behind: ${files.join(', ')}`);
    const record = JSON.parse(readFileSync(join(s.stateDir, files[0]!), 'utf8')) as {
      channel: string;
      sent: { key: string }[];
    };
    assert.equal(record.channel, 'webhook:OPS_HOOK');
    assert.equal(record.sent.length, 3, 'the oldest keys are forgotten beyond the bound');
    // The newest are remembered; the forgotten oldest would be sent again.
    const before = json.posts.length;
    assert.equal((await run(activities, all.at(-1)!)).channels[0]!.status, 'already-sent');
    assert.equal((await run(activities, all[0]!)).channels[0]!.status, 'sent');
    assert.equal(json.posts.length, before + 1);
  });

  test('with no channel configured it sends nothing and says so', async () => {
    for (const notify of [undefined, settings({ webhooks: [], mail: undefined })]) {
      const result = await run(createNotifyActivities({ notify }), events('none')[0]!);
      assert.equal(result.outcome, 'no-channel');
      assert.deepEqual(result.channels, []);
      assert.match(result.note, /no notification channel configured/);
    }
  });

  test('an invalid event fails at once, not retried, naming the field', async () => {
    const event = { ...events('invalid')[3]!, attempts: 0 } as NotificationEventInput;
    const err = await failure(run(createNotifyActivities({ notify: settings() }), event));
    assert.equal(err.type, INVALID_NOTIFICATION);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /event\.attempts/);
  });
});
