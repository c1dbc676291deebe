/**
 * Where notifications go (activities/notify/), read from the environment at start-up and
 * validated with zod; part of the worker's configuration (worker/config.ts). Nothing configured:
 * notifications are off and the `notify` activity says so.
 *
 *   FVPB_NOTIFY_WEBHOOKS           webhooks, comma-separated, each "[FORMAT:]env:VAR" where VAR holds the
 *                                  URL and FORMAT is json (default), slack or teams; or "file:/path.json"
 *                                  with [{ "name": "ops", "format": "slack", "url": "https://..." }]
 *   FVPB_NOTIFY_SMTP_URL           smtp://host[:port] (STARTTLS when offered, port 587),
 *                                  smtp://host[:port]?starttls=required, or smtps://host[:port] (TLS, 465);
 *                                  no user or password in it
 *   FVPB_NOTIFY_SMTP_USER          SMTP user, with
 *   FVPB_NOTIFY_SMTP_PASSWORD_VAR  the name of the variable that holds its password
 *   FVPB_NOTIFY_MAIL_FROM          sender, "backup@example.com" or "Backups <backup@example.com>"
 *   FVPB_NOTIFY_MAIL_TO            recipients, comma-separated
 *   FVPB_NOTIFY_RESTORE_FAILING_AFTER  how long a restore fails before anyone is told ('15 minutes'; 1 s-1 day)
 *   FVPB_NOTIFY_STATE_DIR          the record of sent notifications (.data/notifications in the project)
 *   FVPB_NOTIFY_TIMEOUT            one channel's send ('15 seconds'; 1 s-5 min)
 *
 * Webhook URLs carry their token and are secrets like the password: they are read from the
 * variables or the file named here, held as `Secret`, and no message here ever quotes one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import {
  Secret,
  WebhookFormat,
  type MailChannel,
  type NotifySettings,
  type WebhookChannel,
} from '../activities/notify';
import { boundedDuration, DAY, durationMs, MINUTE, SECOND } from '../domain/duration';
import { describeZodError } from '../domain/zod-issues';

/** The project's own folder (the nearest package.json up from here): the same from sources and from a build in dist/. */
function projectRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return resolve(__dirname, '..');
  }
}

/** Not the working directory: a service's (System32 for a Windows service) is nobody's to write in. */
export const DEFAULT_NOTIFY_STATE_DIR = join(projectRoot(), '.data', 'notifications');

export class NotifyConfigError extends Error {
  override name = 'NotifyConfigError';
}

const VarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected the name of an environment variable');

const NotifyEnv = z.object({
  FVPB_NOTIFY_WEBHOOKS: z.string().trim().min(1).optional(),
  FVPB_NOTIFY_SMTP_URL: z.string().trim().min(1).optional(),
  FVPB_NOTIFY_SMTP_USER: z.string().min(1).optional(),
  FVPB_NOTIFY_SMTP_PASSWORD_VAR: VarName.optional(),
  FVPB_NOTIFY_MAIL_FROM: z.string().trim().min(1).optional(),
  FVPB_NOTIFY_MAIL_TO: z.string().trim().min(1).optional(),
  FVPB_NOTIFY_RESTORE_FAILING_AFTER: boundedDuration(SECOND, DAY).default('15 minutes'),
  FVPB_NOTIFY_STATE_DIR: z.string().min(1).optional(),
  FVPB_NOTIFY_TIMEOUT: boundedDuration(SECOND, 5 * MINUTE).default('15 seconds'),
});

const WebhookName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected 1-64 letters, digits, "_", "." or "-"');
const WebhookFile = z
  .array(z.object({ name: WebhookName, format: WebhookFormat.default('json'), url: z.string() }).strict())
  .min(1);

const Email = z.email('expected an e-mail address');

/** "[FORMAT:]env:VAR" */
const WEBHOOK_REF = /^(?:(json|slack|teams):)?env:([A-Za-z_][A-Za-z0-9_]*)$/;

function isHttpUrl(value: string | undefined): value is string {
  if (!value || !URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === 'http:' || protocol === 'https:';
}

/** "Name <addr>" or "addr": the address part must be an e-mail address. */
function isSender(value: string): boolean {
  const match = /^[^<>]*<([^<>]+)>\s*$/.exec(value);
  return Email.safeParse(match ? match[1] : value).success;
}

/** The notification settings, or a NotifyConfigError naming each variable that is wrong (never its secret value). */
export function loadNotifyConfig(env: NodeJS.ProcessEnv): NotifySettings {
  const parsed = NotifyEnv.safeParse(env);
  if (!parsed.success) {
    throw new NotifyConfigError(`invalid notification configuration: ${describeZodError(parsed.error)}`);
  }
  const e = parsed.data;
  const problems: string[] = [];
  const webhooks = e.FVPB_NOTIFY_WEBHOOKS ? parseWebhooks(e.FVPB_NOTIFY_WEBHOOKS, env, problems) : [];
  const mail = parseMail(e, env, problems);
  if (problems.length > 0) throw new NotifyConfigError(`invalid notification configuration: ${problems.join('; ')}`);
  return {
    webhooks,
    mail,
    restoreFailingAfterMs: durationMs(e.FVPB_NOTIFY_RESTORE_FAILING_AFTER),
    stateDir: e.FVPB_NOTIFY_STATE_DIR ? resolve(e.FVPB_NOTIFY_STATE_DIR) : DEFAULT_NOTIFY_STATE_DIR,
    timeoutMs: durationMs(e.FVPB_NOTIFY_TIMEOUT),
  };
}

function parseWebhooks(spec: string, env: NodeJS.ProcessEnv, problems: string[]): WebhookChannel[] {
  const V = 'FVPB_NOTIFY_WEBHOOKS';
  if (spec.startsWith('file:')) {
    const path = spec.slice('file:'.length);
    let entries: z.infer<typeof WebhookFile>;
    try {
      const result = WebhookFile.safeParse(JSON.parse(readFileSync(path, 'utf8')));
      if (!result.success) {
        // zod's messages name the field and the expectation; none quotes the value.
        problems.push(`${V}: ${path}: ${describeZodError(result.error)}`);
        return [];
      }
      entries = result.data;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(`${V}: ${path}: ${code ? `cannot read it (${code})` : 'expected a JSON array of webhooks'}`);
      return [];
    }
    const hooks: WebhookChannel[] = [];
    entries.forEach((entry, i) => {
      if (!isHttpUrl(entry.url)) problems.push(`${V}: ${path}: [${i}].url: expected an http(s) URL`);
      else hooks.push({ name: entry.name, format: entry.format, url: new Secret(entry.url) });
    });
    checkUniqueNames(hooks, problems);
    return hooks;
  }
  const hooks: WebhookChannel[] = [];
  for (const ref of spec.split(',').map((s) => s.trim())) {
    const match = WEBHOOK_REF.exec(ref);
    if (!match) {
      problems.push(`${V}: expected "[json|slack|teams:]env:VAR" entries separated by commas, or "file:/path.json"`);
      return [];
    }
    const [, format = 'json', variable] = match as unknown as [string, WebhookFormat | undefined, string];
    const url = env[variable];
    if (!isHttpUrl(url)) {
      problems.push(`${V}: the variable ${variable} ${url ? 'does not hold an http(s) URL' : 'is not set'}`);
      continue;
    }
    hooks.push({ name: variable, format, url: new Secret(url) });
  }
  checkUniqueNames(hooks, problems);
  return hooks;
}

function checkUniqueNames(hooks: WebhookChannel[], problems: string[]): void {
  const seen = new Set<string>();
  for (const { name } of hooks) {
    if (seen.has(name)) problems.push(`FVPB_NOTIFY_WEBHOOKS: the webhook ${name} is listed twice`);
    seen.add(name);
  }
}

function parseMail(e: z.infer<typeof NotifyEnv>, env: NodeJS.ProcessEnv, problems: string[]): MailChannel | undefined {
  const mailVars = {
    FVPB_NOTIFY_SMTP_URL: e.FVPB_NOTIFY_SMTP_URL,
    FVPB_NOTIFY_MAIL_FROM: e.FVPB_NOTIFY_MAIL_FROM,
    FVPB_NOTIFY_MAIL_TO: e.FVPB_NOTIFY_MAIL_TO,
  };
  const anyMail = Object.values(mailVars).some(Boolean) || e.FVPB_NOTIFY_SMTP_USER || e.FVPB_NOTIFY_SMTP_PASSWORD_VAR;
  if (!anyMail) return undefined;
  const missing = Object.entries(mailVars)
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length > 0) problems.push(`${missing.join(', ')}: required for e-mail notifications`);

  let server: { host: string; port: number; secure: boolean; requireTLS: boolean } | undefined;
  if (e.FVPB_NOTIFY_SMTP_URL) server = parseSmtpUrl(e.FVPB_NOTIFY_SMTP_URL, problems);

  let password: Secret | undefined;
  if (Boolean(e.FVPB_NOTIFY_SMTP_USER) !== Boolean(e.FVPB_NOTIFY_SMTP_PASSWORD_VAR)) {
    problems.push('FVPB_NOTIFY_SMTP_USER and FVPB_NOTIFY_SMTP_PASSWORD_VAR go together');
  } else if (e.FVPB_NOTIFY_SMTP_PASSWORD_VAR) {
    const value = env[e.FVPB_NOTIFY_SMTP_PASSWORD_VAR];
    if (!value) {
      problems.push(`FVPB_NOTIFY_SMTP_PASSWORD_VAR: the variable ${e.FVPB_NOTIFY_SMTP_PASSWORD_VAR} is not set`);
    } else password = new Secret(value);
  }

  if (e.FVPB_NOTIFY_MAIL_FROM && !isSender(e.FVPB_NOTIFY_MAIL_FROM)) {
    problems.push('FVPB_NOTIFY_MAIL_FROM: expected "address" or "Name <address>"');
  }
  const to = (e.FVPB_NOTIFY_MAIL_TO ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  to.forEach((address, i) => {
    if (!Email.safeParse(address).success) problems.push(`FVPB_NOTIFY_MAIL_TO: [${i}]: expected an e-mail address`);
  });

  if (!server || !e.FVPB_NOTIFY_MAIL_FROM || to.length === 0) return undefined;
  return {
    ...server,
    ...(e.FVPB_NOTIFY_SMTP_USER ? { user: e.FVPB_NOTIFY_SMTP_USER, password } : {}),
    from: e.FVPB_NOTIFY_MAIL_FROM,
    to,
  };
}

function parseSmtpUrl(value: string, problems: string[]) {
  const V = 'FVPB_NOTIFY_SMTP_URL';
  if (!URL.canParse(value)) {
    problems.push(`${V}: expected smtp://host[:port] or smtps://host[:port]`);
    return undefined;
  }
  const url = new URL(value);
  if (url.username || url.password) {
    // Said without echoing the value: it holds a password.
    problems.push(`${V}: no credentials in the URL; use FVPB_NOTIFY_SMTP_USER and FVPB_NOTIFY_SMTP_PASSWORD_VAR`);
    return undefined;
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    problems.push(`${V}: expected smtp://host[:port] or smtps://host[:port]`);
    return undefined;
  }
  const query = [...url.searchParams.entries()];
  const requireTLS = query.length === 1 && query[0]![0] === 'starttls' && query[0]![1] === 'required';
  if ((query.length > 0 && !requireTLS) || (url.pathname !== '' && url.pathname !== '/') || !url.hostname) {
    problems.push(`${V}: expected smtp://host[:port], optionally ?starttls=required, or smtps://host[:port]`);
    return undefined;
  }
  const secure = url.protocol === 'smtps:';
  if (secure && requireTLS) {
    problems.push(`${V}: ?starttls=required is for smtp://; smtps:// is TLS from the start`);
    return undefined;
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: url.port ? Number(url.port) : secure ? 465 : 587, secure, requireTLS };
}
