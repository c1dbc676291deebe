/**
 * A channel (a webhook or the mail), and how its failure is reported: from what we described
 * ourselves or the transport's code and answer, with any echo of a secret masked.
 */
import type { NotificationEvent } from '../../domain/notification';
import { clip, type Rendered } from './format';
import type { NotifySettings } from './settings';

export interface Channel {
  /** Stable and secret-free: names the record file and appears in results. */
  id: string;
  /** For messages: what an operator recognises. */
  label: string;
  send(event: NotificationEvent, message: Rendered): Promise<void>;
}

/** A failure we described ourselves, free of secrets by construction. */
export class ChannelError extends Error {}

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

export function describeFailure(err: unknown, channel: Channel, settings: NotifySettings): string {
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
