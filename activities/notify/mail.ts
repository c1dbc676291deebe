/**
 * The mail channel: the event as a plain-text mail over SMTP (nodemailer), with a Message-ID
 * derived from the idempotency key and the key in an `X-FVPB-Idempotency-Key` header, for the
 * receiving side to drop a repeat.
 */
import nodemailer from 'nodemailer';
import type { Channel } from './channel';
import { mailText } from './format';
import { headerKey, sha256 } from './keys';
import type { MailChannel } from './settings';

export function mailChannel(mail: MailChannel, timeoutMs: number): Channel {
  const transport = nodemailer.createTransport({
    host: mail.host,
    port: mail.port,
    secure: mail.secure,
    requireTLS: mail.requireTLS,
    auth: mail.user ? { user: mail.user, pass: mail.password?.reveal() ?? '' } : undefined,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    // nodemailer's own logging could print the SMTP conversation, AUTH included.
    logger: false,
    debug: false,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return {
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
  };
}

function domainOf(address: string): string {
  const match = /@([A-Za-z0-9.-]+)>?\s*$/.exec(address);
  return match?.[1] ?? 'fvp-protected-backup.invalid';
}
