/**
 * `notify`: sends one event (domain/notification.ts) to every configured channel, i.e. webhooks
 * (our JSON, Slack or Microsoft Teams incoming-webhook bodies) and e-mail over SMTP (nodemailer).
 *
 * Exactly once per channel and idempotency key, across Temporal's retries of the activity: each
 * channel keeps a small record of the keys it has sent (a JSON file per channel in the state
 * directory, written atomically, the oldest keys forgotten beyond a bound). A channel that already
 * has the key is skipped; a channel that fails makes the activity fail retryably, and the retry sends
 * only to the channels still missing it. Receivers can dedupe too: webhooks get the key as the
 * `Idempotency-Key` header, mail a Message-ID derived from it and an `X-FVPB-Idempotency-Key` header.
 * The one window left: a worker that dies after a receiver accepted the event and before the record
 * is written sends it again on the retry (with the same key, for the receiver to drop).
 *
 * Webhook URLs (they carry tokens) and the SMTP password are secrets: they are held in `Secret`
 * (which prints as "[redacted]"), never put in a body, subject, log line or error, and any echo of
 * them in a server's answer is masked before it is reported.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import nodemailer from 'nodemailer';
import { z } from 'zod';
import { NotifyInput, type ChannelStatus, type NotificationEvent, type NotifyResult } from '../domain/notification';
import { describeZodError } from '../domain/zod-issues';

/** A secret value that never prints: string conversion, JSON and util.inspect all give "[redacted]". */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return '[redacted]';
  }
}

export const WebhookFormat = z.enum(['json', 'slack', 'teams']);
export type WebhookFormat = z.infer<typeof WebhookFormat>;

export interface WebhookChannel {
  /** What the channel is called in results, logs and errors (the variable or file entry that holds its URL). */
  name: string;
  format: WebhookFormat;
  url: Secret;
}

export interface MailChannel {
  host: string;
  port: number;
  /** TLS from the first byte (smtps); otherwise STARTTLS when the server offers it. */
  secure: boolean;
  /** Refuse to send unless STARTTLS succeeds. */
  requireTLS: boolean;
  user?: string;
  password?: Secret;
  from: string;
  to: string[];
}

export interface NotifySettings {
  webhooks: WebhookChannel[];
  mail?: MailChannel;
  /** A restore-failing event younger than this is deferred (not sent, not recorded). */
  restoreFailingAfterMs: number;
  /** Where each channel's record of sent keys lives. */
  stateDir: string;
  /** One channel's send, connection included. */
  timeoutMs: number;
  /** Keys remembered per channel; the oldest are forgotten beyond it. */
  rememberedKeys?: number;
}

export interface NotifyDependencies {
  /** Absent, or with no channel: `notify` is a no-op that says so. */
  notify?: NotifySettings;
  /** The clock (tests). */
  now?: () => Date;
}

export const DEFAULT_REMEMBERED_KEYS = 1000;
export const NOTIFICATION_FAILED = 'NotificationFailed';
export const INVALID_NOTIFICATION = 'InvalidNotification';

export function createNotifyActivities(deps: NotifyDependencies) {
  const settings = deps.notify;
  const now = deps.now ?? (() => new Date());
  const channels = settings ? buildChannels(settings) : [];
  const locks = new Map<string, Promise<unknown>>();

  /** One channel at a time per process: the record is read, the event sent and the key written as one step. */
  function exclusive<T>(channel: string, fn: () => Promise<T>): Promise<T> {
    const previous = locks.get(channel) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.catch(() => undefined);
    locks.set(channel, settled);
    void settled.then(() => {
      if (locks.get(channel) === settled) locks.delete(channel);
    });
    return next;
  }

  async function deliver(
    s: NotifySettings,
    channel: Channel,
    event: NotificationEvent,
    message: Rendered,
  ): Promise<ChannelStatus> {
    return exclusive(channel.id, async () => {
      const record = new SentRecord(s.stateDir, channel.id, s.rememberedKeys ?? DEFAULT_REMEMBERED_KEYS);
      const keyHash = sha256(event.key);
      if (await recordStep('cannot read', () => record.has(keyHash))) return 'already-sent';
      await channel.send(event, message);
      // Sent but not recorded (a full disk...): the retry sends again, with the same key for the receiver to drop.
      await recordStep('sent, but cannot record it', () => record.add(keyHash, now()));
      return 'sent';
    });
  }

  return {
    /** Sends one event to every configured channel, at most once per channel and idempotency key. */
    async notify(input: NotifyInput): Promise<NotifyResult> {
      const parsed = NotifyInput.safeParse(input);
      if (!parsed.success) {
        throw ApplicationFailure.nonRetryable(
          `invalid notification: ${describeZodError(parsed.error)}`,
          INVALID_NOTIFICATION,
        );
      }
      const { event } = parsed.data;
      const base = { kind: event.kind, key: event.key };
      if (!settings || channels.length === 0) {
        return {
          ...base,
          outcome: 'no-channel',
          channels: [],
          note: 'no notification channel configured (FVPB_NOTIFY_WEBHOOKS, FVPB_NOTIFY_SMTP_URL): nothing sent',
        };
      }
      const at = now();
      if (event.kind === 'restore-failing') {
        const due = Date.parse(event.since) + settings.restoreFailingAfterMs;
        if (at.getTime() < due) {
          return {
            ...base,
            outcome: 'deferred',
            channels: [],
            note: `restore of the VM failing for less than ${formatElapsed(settings.restoreFailingAfterMs)}: not sent yet`,
            notBefore: new Date(due).toISOString(),
          };
        }
      }

      const message = render(event, at);
      const settled = await Promise.allSettled(channels.map((c) => deliver(settings, c, event, message)));
      const done: NotifyResult['channels'] = [];
      const failed: string[] = [];
      settled.forEach((s, i) => {
        const channel = channels[i]!;
        if (s.status === 'fulfilled') done.push({ channel: channel.id, status: s.value });
        else failed.push(`${channel.label}: ${describeFailure(s.reason, channel, settings)}`);
      });
      const logged = { kind: event.kind, workflowId: event.workflowId, channels: done };
      if (failed.length > 0) {
        log.warn('notification not delivered everywhere', { ...logged, failed });
        throw ApplicationFailure.create({
          message: `notification ${event.kind} not delivered to ${failed.length} of ${channels.length} channels (${failed.join('; ')})${
            done.length ? `; delivered: ${done.map((d) => d.channel).join(', ')}` : ''
          }`,
          type: NOTIFICATION_FAILED,
          nonRetryable: false,
        });
      }
      log.info('notification delivered', logged);
      return {
        ...base,
        outcome: 'sent',
        channels: done,
        note: `sent to ${done.filter((d) => d.status === 'sent').length} of ${channels.length} channels (the others had it already)`,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Channels

interface Channel {
  /** Stable and secret-free: names the record file and appears in results. */
  id: string;
  /** For messages: what an operator recognises. */
  label: string;
  send(event: NotificationEvent, message: Rendered): Promise<void>;
}

/** A failure we described ourselves, free of secrets by construction. */
class ChannelError extends Error {}

function buildChannels(settings: NotifySettings): Channel[] {
  const channels: Channel[] = settings.webhooks.map((hook) => ({
    id: `webhook:${hook.name}`,
    label: `webhook ${hook.name} (${hook.format})`,
    send: (event, message) => postWebhook(hook, event, message, settings.timeoutMs),
  }));
  const mail = settings.mail;
  if (mail) {
    const transport = nodemailer.createTransport({
      host: mail.host,
      port: mail.port,
      secure: mail.secure,
      requireTLS: mail.requireTLS,
      auth: mail.user ? { user: mail.user, pass: mail.password?.reveal() ?? '' } : undefined,
      connectionTimeout: settings.timeoutMs,
      greetingTimeout: settings.timeoutMs,
      socketTimeout: settings.timeoutMs,
      // nodemailer's own logging could print the SMTP conversation, AUTH included.
      logger: false,
      debug: false,
      disableFileAccess: true,
      disableUrlAccess: true,
    });
    channels.push({
      id: 'mail',
      label: `mail via ${mail.host}:${mail.port}`,
      async send(event, message) {
        await transport.sendMail({
          from: mail.from,
          to: mail.to,
          subject: `[fvp-protected-backup] ${message.title}`,
          text: mailText(message, event),
          messageId: `<${sha256(event.key).slice(0, 40)}.fvpb@${domainOf(mail.from)}>`,
          headers: { 'X-FVPB-Idempotency-Key': headerKey(event.key), 'X-FVPB-Event': event.kind },
        });
      },
    });
  }
  return channels;
}

async function postWebhook(
  hook: WebhookChannel,
  event: NotificationEvent,
  message: Rendered,
  timeoutMs: number,
): Promise<void> {
  // One signal for the send: the channel's timeout or the activity's cancellation (no
  // AbortSignal.any: Node 20.0-20.2 lack it), with nothing left on the activity's signal after.
  const cancelled = Context.current().cancellationSignal;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onCancel = () => controller.abort();
  cancelled.addEventListener('abort', onCancel, { once: true });
  try {
    let response: Response;
    try {
      response = await fetch(hook.url.reveal(), {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'idempotency-key': headerKey(event.key),
          'user-agent': 'fvp-protected-backup',
        },
        body: JSON.stringify(webhookBody(hook.format, event, message)),
        signal: controller.signal,
        // A webhook that redirects is misconfigured; following it would post the event elsewhere.
        redirect: 'error',
      });
    } catch (err) {
      // fetch's own messages may quote the URL: describe the failure from its code only.
      if (timedOut) throw new ChannelError(`no answer within ${formatElapsed(timeoutMs)}`);
      if (cancelled.aborted) throw new ChannelError('cancelled with the activity');
      const code = (err as { cause?: { code?: unknown } }).cause?.code;
      throw new ChannelError(typeof code === 'string' ? `connection failed (${code})` : 'connection failed');
    }
    const answer = await response.text().catch(() => '');
    if (!response.ok) {
      throw new ChannelError(`HTTP ${response.status}${answer ? `: ${clip(answer.replace(/\s+/g, ' '), 200)}` : ''}`);
    }
  } finally {
    clearTimeout(timer);
    cancelled.removeEventListener('abort', onCancel);
  }
}

/** Secrets a server might echo back, to be masked in what we report. */
function secretsOf(settings: NotifySettings): string[] {
  const secrets: string[] = [];
  for (const hook of settings.webhooks) {
    const url = hook.url.reveal();
    secrets.push(url);
    try {
      const { pathname, search } = new URL(url);
      if (pathname.length + search.length >= 8) secrets.push(pathname + search);
    } catch {
      // validated when configured
    }
  }
  const password = settings.mail?.password?.reveal();
  if (password) secrets.push(password);
  return secrets.filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
}

function describeFailure(err: unknown, channel: Channel, settings: NotifySettings): string {
  let text: string;
  if (err instanceof ChannelError) {
    text = err.message;
  } else if (channel.id === 'mail') {
    // nodemailer's errors: a code (EAUTH, ECONNECTION, ETIMEDOUT, EENVELOPE...) and the server's answer.
    const e = err as { code?: unknown; response?: unknown; message?: unknown };
    const said = typeof e.response === 'string' ? e.response : typeof e.message === 'string' ? e.message : '';
    text = `${typeof e.code === 'string' ? `${e.code}: ` : ''}${clip(said.replace(/\s+/g, ' '), 300)}`;
  } else {
    text = err instanceof Error ? err.name : 'failed';
  }
  for (const secret of secretsOf(settings)) text = text.split(secret).join('[redacted]');
  return text;
}

// ---------------------------------------------------------------------------------------------------
// The record of sent keys

/** A failure of the record, said as one (its path is no secret) rather than as the channel's. */
async function recordStep<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ChannelError(
      `${what} its record of sent notifications (${e.code ?? e.message}${e.path ? `: ${e.path}` : ''})`,
    );
  }
}

const SentFile = z.object({
  version: z.literal(1),
  channel: z.string(),
  /** sha256 of each key, oldest first. */
  sent: z.array(z.object({ key: z.string(), at: z.string() })),
});
type SentFile = z.infer<typeof SentFile>;

class SentRecord {
  private readonly file: string;
  constructor(
    private readonly dir: string,
    private readonly channel: string,
    private readonly limit: number,
  ) {
    const slug = channel.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 80);
    this.file = join(dir, `sent-${slug}-${sha256(channel).slice(0, 8)}.json`);
  }

  private async read(): Promise<SentFile> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, channel: this.channel, sent: [] };
      throw err;
    }
    try {
      return SentFile.parse(JSON.parse(text));
    } catch {
      // A damaged record must not stop notifications: start again (at worst a key is sent twice,
      // with the same idempotency key for the receiver to drop).
      log.warn('notification record unreadable, starting a new one', { channel: this.channel, file: this.file });
      return { version: 1, channel: this.channel, sent: [] };
    }
  }

  async has(keyHash: string): Promise<boolean> {
    return (await this.read()).sent.some((s) => s.key === keyHash);
  }

  async add(keyHash: string, at: Date): Promise<void> {
    const record = await this.read();
    record.sent.push({ key: keyHash, at: at.toISOString() });
    record.sent = record.sent.slice(-this.limit);
    await mkdir(this.dir, { recursive: true });
    // Atomic: a crash leaves the old record or the new one, never half of one.
    const temporary = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(record));
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temporary, this.file);
    } catch (err) {
      await rm(temporary, { force: true });
      throw err;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Rendering

type Severity = 'error' | 'warning' | 'info';

interface Rendered {
  severity: Severity;
  title: string;
  text: string;
  facts: [string, string][];
}

function render(event: NotificationEvent, at: Date): Rendered {
  const origin: [string, string][] = [
    ['Workflow', event.workflowId],
    ...(event.runId ? [['Run', event.runId] as [string, string]] : []),
    ['At', event.at],
  ];
  const vms = (list: string[]): [string, string][] => (list.length ? [['VMs', clip(list.join(', '), 1000)]] : []);
  switch (event.kind) {
    case 'run-failed':
      return {
        severity: 'error',
        title: `Backup of ${event.job} failed`,
        text: event.failure.type ? `${event.failure.type}: ${event.failure.message}` : event.failure.message,
        facts: [['Job', event.job], ...vms(event.vms), ...origin],
      };
    case 'run-warning':
      return {
        severity: 'warning',
        title: `Backup of ${event.job} completed with warnings`,
        text: event.warnings.length ? event.warnings.join('\n') : 'Veeam reported warnings.',
        facts: [['Job', event.job], ...vms(event.vms), ...origin],
      };
    case 'run-cancelled':
      return {
        severity: 'warning',
        title: `Backup of ${event.job} was cancelled`,
        text: event.reason ?? 'The run was cancelled; no backup was taken by it.',
        facts: [['Job', event.job], ...vms(event.vms), ...origin],
      };
    case 'restore-failing': {
      const failingFor = formatElapsed(Math.max(0, at.getTime() - Date.parse(event.since)));
      return {
        severity: 'error',
        title: `Restore of ${event.vm} failing for ${failingFor}`,
        text:
          `${event.vm} is still in write-through after ${event.attempts} restore attempts; the restore ` +
          `keeps being retried. Last error: ${event.lastError}`,
        facts: [['VM', event.vm], ['Attempts', String(event.attempts)], ['Failing since', event.since], ...origin],
      };
    }
    case 'backed-up-unprotected':
      return {
        severity: 'error',
        title: `${event.vm} was backed up without write-through protection`,
        text:
          `Veeam session ${event.session} of job ${event.job} read ${event.vm} while it was not verified ` +
          `in write-through: that backup of the VM may be inconsistent. Back it up again.`,
        facts: [['VM', event.vm], ['Job', event.job], ['Session', event.session], ...origin],
      };
    case 'reconciler-fixed':
      return {
        severity: 'info',
        title: `Reconciler restored ${event.vms.length} VM${event.vms.length === 1 ? '' : 's'}`,
        text: `Left in write-through by a run or guard that closed without restoring, now given their recorded policy back: ${event.vms.join(', ')}`,
        facts: [...vms(event.vms), ...origin],
      };
  }
}

/** Our own JSON (`json`), a Slack incoming-webhook message, or a Teams (Workflows) Adaptive Card message. */
export function webhookBody(format: WebhookFormat, event: NotificationEvent, message: Rendered): unknown {
  switch (format) {
    case 'json':
      return {
        source: 'fvp-protected-backup',
        kind: event.kind,
        key: event.key,
        severity: message.severity,
        title: message.title,
        text: message.text,
        event,
      };
    case 'slack':
      // https://api.slack.com/messaging/webhooks: `text` is the fallback, blocks the layout (limits: header 150, section 3000, field 2000, 10 fields).
      return {
        text: clip(`${SLACK_ICON[message.severity]} ${message.title}`, 3000),
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: clip(message.title, 150) } },
          { type: 'section', text: { type: 'mrkdwn', text: clip(slackEscape(message.text), 3000) } },
          {
            type: 'section',
            fields: message.facts
              .slice(0, 10)
              .map(([k, v]) => ({ type: 'mrkdwn', text: clip(`*${k}*\n${slackEscape(v)}`, 2000) })),
          },
          { type: 'context', elements: [{ type: 'mrkdwn', text: clip(`fvp-protected-backup · ${event.kind}`, 3000) }] },
        ],
      };
    case 'teams':
      // Teams "Workflows" incoming webhooks take a message whose attachment is an Adaptive Card.
      return {
        type: 'message',
        attachments: [
          {
            contentType: 'application/vnd.microsoft.card.adaptive',
            contentUrl: null,
            content: {
              $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
              type: 'AdaptiveCard',
              version: '1.4',
              body: [
                {
                  type: 'TextBlock',
                  text: message.title,
                  size: 'Large',
                  weight: 'Bolder',
                  wrap: true,
                  color: TEAMS_COLOR[message.severity],
                },
                { type: 'TextBlock', text: message.text, wrap: true },
                { type: 'FactSet', facts: message.facts.map(([title, value]) => ({ title, value })) },
              ],
            },
          },
        ],
      };
  }
}

const SLACK_ICON: Record<Severity, string> = {
  error: ':red_circle:',
  warning: ':warning:',
  info: ':white_check_mark:',
};
const TEAMS_COLOR: Record<Severity, string> = { error: 'Attention', warning: 'Warning', info: 'Good' };

function mailText(message: Rendered, event: NotificationEvent): string {
  const width = Math.max(...message.facts.map(([k]) => k.length));
  return [
    message.title,
    '',
    message.text,
    '',
    ...message.facts.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`),
    '',
    `Event: ${event.kind}`,
    `Idempotency key: ${event.key}`,
    '',
    '-- fvp-protected-backup',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Small helpers

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The key as a header value: percent-encoded (any characters are legal in a key), hashed when very long. */
export function headerKey(key: string): string {
  const encoded = encodeURIComponent(key);
  return encoded.length <= 512 ? encoded : `sha256-${sha256(key)}`;
}

function domainOf(address: string): string {
  const match = /@([A-Za-z0-9.-]+)>?\s*$/.exec(address);
  return match?.[1] ?? 'fvp-protected-backup.invalid';
}

function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function formatElapsed(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) {
    const seconds = Math.max(1, Math.round(ms / 1000));
    return `${seconds} second${seconds === 1 ? '' : 's'}`;
  }
  if (minutes < 120) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  return `${Math.round(minutes / 60)} hours`;
}
