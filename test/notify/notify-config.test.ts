/**
 * FVPB_NOTIFY_*: channels from the environment, validated at start-up, every error naming the
 * variable and never quoting a secret (webhook URLs carry tokens; the SMTP password).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ConfigError, loadConfig } from '../../worker/config';
import { repoRoot } from '../helpers/tools';
import { DEFAULT_NOTIFY_STATE_DIR, loadNotifyConfig, NotifyConfigError } from '../../worker/notify-config';

const SLACK_URL = 'https://hooks.slack.example/services/T000/B000/s3cr3t-token-slack';
const TEAMS_URL = 'https://prod.teams.example/workflows/abc/triggers/manual/paths/invoke?sig=s3cr3t-sig-teams';
const PASSWORD = 'smtp-Pa55!-s3cr3t';
const SECRETS = [SLACK_URL, TEAMS_URL, PASSWORD, 's3cr3t'];

const minimalWorker = { FVPB_FVP_SERVER: 'fvp.example', FVPB_VEEAM_SERVER: 'vbr.example' };

const mailEnv = {
  FVPB_NOTIFY_SMTP_URL: 'smtps://mail.example.com',
  FVPB_NOTIFY_SMTP_USER: 'svc-backup',
  FVPB_NOTIFY_SMTP_PASSWORD_VAR: 'SMTP_PASSWORD',
  SMTP_PASSWORD: PASSWORD,
  FVPB_NOTIFY_MAIL_FROM: 'FVP Backups <backups@example.com>',
  FVPB_NOTIFY_MAIL_TO: 'ops@example.com, dba@example.com',
};

function rejected(env: NodeJS.ProcessEnv): string {
  try {
    loadNotifyConfig(env);
  } catch (err) {
    assert.ok(err instanceof NotifyConfigError);
    for (const secret of SECRETS) assert.ok(!err.message.includes(secret), `no secret in: ${err.message}`);
    return err.message;
  }
  return assert.fail('expected the configuration to be refused');
}

describe('notification configuration', () => {
  test('nothing configured: no channel, defaults for the rest', () => {
    const config = loadNotifyConfig({});
    assert.deepEqual(config.webhooks, []);
    assert.equal(config.mail, undefined);
    assert.equal(config.restoreFailingAfterMs, 15 * 60_000);
    assert.equal(config.timeoutMs, 15_000);
    assert.equal(config.stateDir, DEFAULT_NOTIFY_STATE_DIR);
    assert.equal(DEFAULT_NOTIFY_STATE_DIR, join(repoRoot, '.data', 'notifications'));
    // The worker's configuration carries it.
    assert.deepEqual(loadConfig(minimalWorker).notify.webhooks, []);
  });

  test('webhooks from variables, each with its format; mail with its server, login and recipients', () => {
    const config = loadNotifyConfig({
      FVPB_NOTIFY_WEBHOOKS: 'slack:env:SLACK_URL, teams:env:TEAMS_URL,env:OPS_URL',
      SLACK_URL,
      TEAMS_URL,
      OPS_URL: 'http://127.0.0.1:8080/hook',
      ...mailEnv,
      FVPB_NOTIFY_RESTORE_FAILING_AFTER: '30 minutes',
      FVPB_NOTIFY_STATE_DIR: '/var/lib/fvpb/notifications',
      FVPB_NOTIFY_TIMEOUT: '5 seconds',
    });
    assert.deepEqual(
      config.webhooks.map((w) => [w.name, w.format, w.url.reveal()]),
      [
        ['SLACK_URL', 'slack', SLACK_URL],
        ['TEAMS_URL', 'teams', TEAMS_URL],
        ['OPS_URL', 'json', 'http://127.0.0.1:8080/hook'],
      ],
    );
    const { password, ...mail } = config.mail!;
    assert.deepEqual(mail, {
      host: 'mail.example.com',
      port: 465,
      secure: true,
      requireTLS: false,
      user: 'svc-backup',
      from: 'FVP Backups <backups@example.com>',
      to: ['ops@example.com', 'dba@example.com'],
    });
    assert.equal(password?.reveal(), PASSWORD);
    assert.equal(config.restoreFailingAfterMs, 30 * 60_000);
    assert.equal(config.stateDir, '/var/lib/fvpb/notifications');
    assert.equal(config.timeoutMs, 5000);
    // However it is printed, the configuration keeps its secrets.
    for (const printed of [JSON.stringify(config), inspect(config, { depth: 10 }), String(config.webhooks[0]!.url)]) {
      for (const secret of SECRETS) assert.ok(!printed.includes(secret), `no secret in ${printed}`);
    }
  });

  test('SMTP URLs: STARTTLS when offered, required, or TLS from the start; ports default per scheme', () => {
    const server = (url: string) => {
      const { host, port, secure, requireTLS } = loadNotifyConfig({ ...mailEnv, FVPB_NOTIFY_SMTP_URL: url }).mail!;
      return { host, port, secure, requireTLS };
    };
    assert.deepEqual(server('smtp://mail.example.com'), {
      host: 'mail.example.com',
      port: 587,
      secure: false,
      requireTLS: false,
    });
    assert.deepEqual(server('smtp://mail.example.com:25?starttls=required'), {
      host: 'mail.example.com',
      port: 25,
      secure: false,
      requireTLS: true,
    });
    assert.deepEqual(server('smtps://[::1]:2465'), { host: '::1', port: 2465, secure: true, requireTLS: false });
    // Mail without a login (a relay that trusts the worker's host).
    const { FVPB_NOTIFY_SMTP_USER: _u, FVPB_NOTIFY_SMTP_PASSWORD_VAR: _p, ...anonymous } = mailEnv;
    const relay = loadNotifyConfig(anonymous).mail!;
    assert.equal(relay.user, undefined);
    assert.equal(relay.password, undefined);
  });

  test('webhooks from a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fvpb-notify-config-'));
    const file = join(dir, 'webhooks.json');
    writeFileSync(
      file,
      JSON.stringify([
        { name: 'ops-slack', format: 'slack', url: SLACK_URL },
        { name: 'audit', url: 'https://audit.example/hook' },
      ]),
    );
    const config = loadNotifyConfig({ FVPB_NOTIFY_WEBHOOKS: `file:${file}` });
    assert.deepEqual(
      config.webhooks.map((w) => [w.name, w.format]),
      [
        ['ops-slack', 'slack'],
        ['audit', 'json'],
      ],
    );

    writeFileSync(file, JSON.stringify([{ name: 'ops', url: `ftp://x/${'s3cr3t'}` }]));
    assert.equal(
      rejected({ FVPB_NOTIFY_WEBHOOKS: `file:${file}` }),
      `invalid notification configuration: FVPB_NOTIFY_WEBHOOKS: ${file}: [0].url: expected an http(s) URL`,
    );
    writeFileSync(
      file,
      JSON.stringify([
        { name: 'ops', url: SLACK_URL },
        { name: 'ops', url: TEAMS_URL },
      ]),
    );
    assert.match(
      rejected({ FVPB_NOTIFY_WEBHOOKS: `file:${file}` }),
      /FVPB_NOTIFY_WEBHOOKS: the webhook ops is listed twice/,
    );
    writeFileSync(file, `[{ "name": "ops", "url": "${SLACK_URL}" `);
    assert.match(rejected({ FVPB_NOTIFY_WEBHOOKS: `file:${file}` }), /expected a JSON array of webhooks/);
    assert.match(
      rejected({ FVPB_NOTIFY_WEBHOOKS: `file:${join(dir, 'missing.json')}` }),
      /FVPB_NOTIFY_WEBHOOKS: .*missing\.json: cannot read it \(ENOENT\)/,
    );
  });

  test('each mistake names its variable and never quotes a secret', () => {
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [{ FVPB_NOTIFY_WEBHOOKS: SLACK_URL }, /FVPB_NOTIFY_WEBHOOKS: expected "\[json\|slack\|teams:\]env:VAR"/],
      [{ FVPB_NOTIFY_WEBHOOKS: 'discord:env:X' }, /FVPB_NOTIFY_WEBHOOKS: expected/],
      [{ FVPB_NOTIFY_WEBHOOKS: 'slack:env:SLACK_URL' }, /FVPB_NOTIFY_WEBHOOKS: the variable SLACK_URL is not set/],
      [
        { FVPB_NOTIFY_WEBHOOKS: 'slack:env:SLACK_URL', SLACK_URL: 'not a url s3cr3t' },
        /FVPB_NOTIFY_WEBHOOKS: the variable SLACK_URL does not hold an http\(s\) URL/,
      ],
      [
        { FVPB_NOTIFY_WEBHOOKS: 'env:A,slack:env:A', A: SLACK_URL },
        /FVPB_NOTIFY_WEBHOOKS: the webhook A is listed twice/,
      ],
      [
        { ...mailEnv, FVPB_NOTIFY_SMTP_URL: `smtp://svc:${PASSWORD}@mail.example.com` },
        /FVPB_NOTIFY_SMTP_URL: no credentials in the URL; use FVPB_NOTIFY_SMTP_USER and FVPB_NOTIFY_SMTP_PASSWORD_VAR/,
      ],
      [{ ...mailEnv, FVPB_NOTIFY_SMTP_URL: 'https://mail.example.com' }, /FVPB_NOTIFY_SMTP_URL: expected smtp:\/\//],
      [{ ...mailEnv, FVPB_NOTIFY_SMTP_URL: 'smtp://mail.example.com?tls=maybe' }, /FVPB_NOTIFY_SMTP_URL: expected/],
      [{ ...mailEnv, FVPB_NOTIFY_SMTP_URL: 'smtps://mail.example.com?starttls=required' }, /is for smtp:\/\//],
      [
        { ...mailEnv, FVPB_NOTIFY_SMTP_PASSWORD_VAR: undefined },
        /FVPB_NOTIFY_SMTP_USER and FVPB_NOTIFY_SMTP_PASSWORD_VAR go together/,
      ],
      [
        { ...mailEnv, SMTP_PASSWORD: undefined },
        /FVPB_NOTIFY_SMTP_PASSWORD_VAR: the variable SMTP_PASSWORD is not set/,
      ],
      [
        { ...mailEnv, FVPB_NOTIFY_SMTP_PASSWORD_VAR: PASSWORD },
        /FVPB_NOTIFY_SMTP_PASSWORD_VAR: expected the name of an environment variable/,
      ],
      [
        { FVPB_NOTIFY_SMTP_URL: 'smtp://mail.example.com' },
        /FVPB_NOTIFY_MAIL_FROM, FVPB_NOTIFY_MAIL_TO: required for e-mail notifications/,
      ],
      [
        { ...mailEnv, FVPB_NOTIFY_MAIL_FROM: 'backups' },
        /FVPB_NOTIFY_MAIL_FROM: expected "address" or "Name <address>"/,
      ],
      [
        { ...mailEnv, FVPB_NOTIFY_MAIL_TO: 'ops@example.com, nobody' },
        /FVPB_NOTIFY_MAIL_TO: \[1\]: expected an e-mail/,
      ],
      [
        { FVPB_NOTIFY_RESTORE_FAILING_AFTER: '2 days' },
        /FVPB_NOTIFY_RESTORE_FAILING_AFTER: expected a duration between 1 second and 24 hours/,
      ],
      [{ FVPB_NOTIFY_TIMEOUT: 'soon' }, /FVPB_NOTIFY_TIMEOUT: expected a positive duration/],
    ];
    for (const [env, expected] of cases) assert.match(rejected(env), expected);
  });

  test('the worker refuses to start on a bad notification setting, naming it', () => {
    assert.throws(
      () => loadConfig({ ...minimalWorker, FVPB_NOTIFY_WEBHOOKS: 'slack:env:NOT_SET' }),
      (err: unknown) =>
        err instanceof ConfigError && /FVPB_NOTIFY_WEBHOOKS: the variable NOT_SET is not set/.test(err.message),
    );
  });
});
