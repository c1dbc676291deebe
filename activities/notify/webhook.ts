/**
 * A webhook channel: the event POSTed as our JSON, a Slack or a Teams body, with the idempotency
 * key as the `Idempotency-Key` header for the receiver to drop a repeat. The URL carries a token:
 * no failure reported from here quotes it.
 */
import { Context } from '@temporalio/activity';
import type { NotificationEvent } from '../../domain/notification';
import { ChannelError, type Channel } from './channel';
import { clip, formatElapsed, webhookBody, type Rendered } from './format';
import { headerKey } from './keys';
import type { WebhookChannel } from './settings';

export function webhookChannel(hook: WebhookChannel, timeoutMs: number): Channel {
  return {
    id: `webhook:${hook.name}`,
    label: `webhook ${hook.name} (${hook.format})`,
    send: (event, message) => postWebhook(hook, event, message, timeoutMs),
  };
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
