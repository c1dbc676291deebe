/**
 * What the product tells people about, as one event per thing that happened: the vocabulary the
 * workflows (which decide when) and the `notify` activity (which sends) share. Pure and
 * workflow-safe: workflows build these objects and pass them to the activity.
 *
 * Every event carries an idempotency key chosen by its caller, stable across retries and replays
 * (built from the workflow id, run id, kind and VM with `notificationKey`): the activity sends an
 * event at most once per channel and key, and hands the key to receivers so they can dedupe too.
 * No event has a field for a credential, a URL or a host: only what happened to which job and VM.
 */
import { z } from 'zod';

/** Any characters (VM and job names travel as data); bounded so that a record of keys stays small. */
export const IdempotencyKey = z.string().min(1).max(20_000);

const Name = z.string().min(1).max(8192);
/** An error message as the workflow saw it; credentials never reach one (activities keep them out). */
const Message = z.string().max(10_000);
const Timestamp = z.iso.datetime({ offset: true });

/** Where the event comes from: the workflow execution that saw it happen. */
const common = {
  key: IdempotencyKey,
  /** When it happened (the workflow's clock). */
  at: Timestamp,
  workflowId: z.string().min(1).max(1000),
  runId: z.string().min(1).max(100).optional(),
};

/** What a run was about; shared by the three run events. */
const run = {
  ...common,
  job: Name,
  vms: z.array(Name).max(1000).default([]),
};

export const RunFailed = z
  .object({
    kind: z.literal('run-failed'),
    ...run,
    /** The failure's type (e.g. FlushTimeout, BackupJobFailed) when it has one, and its message. */
    failure: z.object({ type: z.string().max(200).nullable(), message: Message }).strict(),
  })
  .strict();

export const RunWarning = z
  .object({
    kind: z.literal('run-warning'),
    ...run,
    warnings: z.array(Message).max(100),
  })
  .strict();

export const RunCancelled = z
  .object({
    kind: z.literal('run-cancelled'),
    ...run,
    /** Who or what asked, when the workflow knows (e.g. a cancel request's identity). */
    reason: Message.optional(),
  })
  .strict();

/** A VM's restore keeps failing: the VM is still in write-through (slow) and someone must look. */
export const RestoreFailing = z
  .object({
    kind: z.literal('restore-failing'),
    ...common,
    vm: Name,
    attempts: z.number().int().min(1),
    /** When the first failed attempt of this episode happened. */
    since: Timestamp,
    lastError: Message,
  })
  .strict();

/** A VM was backed up while not protected (not verified in write-through): its backup may be inconsistent. */
export const BackedUpUnprotected = z
  .object({
    kind: z.literal('backed-up-unprotected'),
    ...common,
    vm: Name,
    job: Name,
    /** The Veeam session that read the VM. */
    session: z.string().min(1).max(200),
  })
  .strict();

/** The reconciler gave VMs their recorded policy back after a run or guard left them in write-through. */
export const ReconcilerFixed = z
  .object({
    kind: z.literal('reconciler-fixed'),
    ...common,
    vms: z.array(Name).min(1).max(1000),
  })
  .strict();

export const NotificationEvent = z.discriminatedUnion('kind', [
  RunFailed,
  RunWarning,
  RunCancelled,
  RestoreFailing,
  BackedUpUnprotected,
  ReconcilerFixed,
]);
/** What a caller builds (defaults optional). */
export type NotificationEventInput = z.input<typeof NotificationEvent>;
export type NotificationEvent = z.infer<typeof NotificationEvent>;
export type NotificationKind = NotificationEvent['kind'];
export const NOTIFICATION_KINDS = NotificationEvent.options.map((o) => o.shape.kind.value);

/** The `notify` activity's one argument. */
export const NotifyInput = z.object({ event: NotificationEvent }).strict();
export type NotifyInput = z.input<typeof NotifyInput>;

export const ChannelStatus = z.enum(['sent', 'already-sent']);
export type ChannelStatus = z.infer<typeof ChannelStatus>;

/**
 * What `notify` did:
 * - `sent`: every configured channel has the event now (each `sent` by this call or `already-sent`
 *   by an earlier attempt with the same key);
 * - `no-channel`: nothing is configured, nothing was sent;
 * - `deferred`: a `restore-failing` event younger than the worker's threshold
 *   (FVPB_NOTIFY_RESTORE_FAILING_AFTER); nothing was sent or recorded, so the same key may be sent
 *   again from `notBefore` on.
 */
export const NotifyResult = z
  .object({
    kind: z.enum(NOTIFICATION_KINDS as [NotificationKind, ...NotificationKind[]]),
    key: IdempotencyKey,
    outcome: z.enum(['sent', 'no-channel', 'deferred']),
    channels: z.array(z.object({ channel: z.string(), status: ChannelStatus }).strict()),
    note: z.string(),
    notBefore: Timestamp.optional(),
  })
  .strict();
export type NotifyResult = z.infer<typeof NotifyResult>;

/**
 * The idempotency key of an event: stable across activity retries and workflow replays because it
 * is built from what the workflow already knows. `vm` for per-VM events; `episode` tells apart two
 * distinct occurrences of the same kind for the same VM in one run (e.g. the `since` of a second
 * restore-failing episode).
 */
export function notificationKey(parts: {
  workflowId: string;
  runId: string;
  kind: NotificationKind;
  vm?: string;
  episode?: string;
}): string {
  return [parts.workflowId, parts.runId, parts.kind, parts.vm, parts.episode]
    .filter((p): p is string => p !== undefined)
    .map((p) => JSON.stringify(p))
    .join('/');
}
