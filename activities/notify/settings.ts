/**
 * Where notifications go and how they are sent, as the worker configures them
 * (worker/notify-config.ts reads them from the environment).
 */
import { z } from 'zod';
import type { Secret } from './secret';

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

export const DEFAULT_REMEMBERED_KEYS = 1000;
