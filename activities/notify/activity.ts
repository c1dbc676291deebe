/**
 * The `notify` activity: one event to every configured channel, at most once per channel and
 * idempotency key (see index.ts for the guarantees). A channel that fails makes the activity fail
 * retryably, and the retry sends only to the channels still missing the key.
 */
import { ApplicationFailure, log } from '@temporalio/activity';
import { NotifyInput, type ChannelStatus, type NotificationEvent, type NotifyResult } from '../../domain/notification';
import { describeZodError } from '../../domain/zod-issues';
import { describeFailure, type Channel } from './channel';
import { formatElapsed, render, type Rendered } from './format';
import { sha256 } from './keys';
import { mailChannel } from './mail';
import { recordStep, SentRecord } from './sent-keys';
import { DEFAULT_REMEMBERED_KEYS, type NotifySettings } from './settings';
import { webhookChannel } from './webhook';

export interface NotifyDependencies {
  /** Absent, or with no channel: `notify` is a no-op that says so. */
  notify?: NotifySettings;
  /** The clock (tests). */
  now?: () => Date;
}

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

function buildChannels(settings: NotifySettings): Channel[] {
  const channels = settings.webhooks.map((hook) => webhookChannel(hook, settings.timeoutMs));
  if (settings.mail) channels.push(mailChannel(settings.mail, settings.timeoutMs));
  return channels;
}
