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
 *
 * This is the public entry; the parts: the activity (activity.ts), the channels (webhook.ts,
 * mail.ts, and channel.ts for how a failure is told), the record of sent keys (sent-keys.ts), the
 * bodies (format.ts), the settings (settings.ts, secret.ts).
 */
export { createNotifyActivities, INVALID_NOTIFICATION, NOTIFICATION_FAILED, type NotifyDependencies } from './activity';
export { webhookBody } from './format';
export { headerKey } from './keys';
export { Secret } from './secret';
export {
  DEFAULT_REMEMBERED_KEYS,
  WebhookFormat,
  type MailChannel,
  type NotifySettings,
  type WebhookChannel,
} from './settings';
