/**
 * What a notification says: one event rendered once (severity, title, text, facts), then laid out
 * as each channel's body (our JSON, a Slack message, a Teams Adaptive Card, a plain-text mail).
 */
import type { NotificationEvent } from '../../domain/notification';
import type { WebhookFormat } from './settings';

type Severity = 'error' | 'warning' | 'info';

export interface Rendered {
  severity: Severity;
  title: string;
  text: string;
  facts: [string, string][];
}

export function render(event: NotificationEvent, at: Date): Rendered {
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

export function mailText(message: Rendered, event: NotificationEvent): string {
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

function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function formatElapsed(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) {
    const seconds = Math.max(1, Math.round(ms / 1000));
    return `${seconds} second${seconds === 1 ? '' : 's'}`;
  }
  if (minutes < 120) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  return `${Math.round(minutes / 60)} hours`;
}
