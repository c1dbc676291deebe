/**
 * Errors of the PowerShell boundary. The activities depend on `PowerShellError` only:
 * `retryable === false` means retrying the same call cannot help (map it to a non-retryable
 * ApplicationFailure); `category` says why.
 */
import type { ErrorCategory } from './operations';
import type { EndpointName } from '../../domain/endpoint';

/**
 * - `transient`, `permanent`, `already-running`, `not-connected`, `unrecognised`...: classified in
 *   TypeScript (classify.ts) from the raw error facts the module returns.
 * - `timeout`: the invocation took longer than `invocationTimeoutMs`; the process was killed.
 *   The command may still have taken effect on the server (e.g. a job may have started).
 * - `process-died`: the PowerShell process exited during the call (or could not be started).
 * - `protocol`: the process answered something that is not the expected JSON document, wrote to
 *   stderr, or returned a result of the wrong shape.
 * - `cancelled`: the caller's AbortSignal fired before anything was written to PowerShell (the call
 *   waited for a pool permit or for its session to start): the call did not run.
 * - `cancelled-in-flight`: the signal fired after the line was written; the process was killed. Like
 *   `timeout`, the call may have taken effect: whoever retries must find out, never assume it did not.
 */
export type PowerShellErrorCategory =
  ErrorCategory | 'timeout' | 'process-died' | 'protocol' | 'cancelled' | 'cancelled-in-flight';

const RETRYABLE: Record<PowerShellErrorCategory, boolean> = {
  transient: true,
  'not-connected': true,
  timeout: true,
  'process-died': true,
  // The attempt was abandoned (its activity timed out or was cancelled): another attempt may run it.
  cancelled: true,
  'cancelled-in-flight': true,
  permanent: false,
  // A job that is already running is waited for, not started again: the caller decides.
  'already-running': false,
  protocol: false,
  'policy-changed': false,
  'fence-moved': false,
  'start-unknown': false,
  // Finding 5 of issue 11: an error nobody classified is never retried blindly (forever, for a restore).
  unrecognised: false,
};

export function isRetryableCategory(category: PowerShellErrorCategory): boolean {
  return RETRYABLE[category];
}

/**
 * Error types that are answers about the caller's request or the world (FvpBackup.psm1's own codes):
 * a VM or job that does not exist or is ambiguous, a bad argument. The session that reported one is
 * healthy. Any other vendor error (an expired token after a server restart, "Unauthorized", a
 * NullReferenceException, a classified or unclassified transient) may mean the session's connection
 * is dead, and a retry on the same session would fail the same way forever: the session is retired
 * and the next call connects afresh.
 */
const CALLER_FAULT_TYPES: ReadonlySet<string> = new Set([
  'VmNotFound',
  'VmAmbiguous',
  'VmNotAccelerated',
  'InvalidArgument',
  'JobNotFound',
  'JobAmbiguous',
  'SessionNotFound',
  'FaultDomainsNotConfigured',
]);

/**
 * Categories that are answers about the world read through a working connection, not about the
 * session (one line each). A category missing here retires the session: the safe default.
 */
const ANSWER_CATEGORIES: ReadonlySet<string> = new Set([
  'already-running',
  // Refusals of a conditional write or start: the module read the current state to decide.
  'policy-changed',
  'fence-moved',
]);

/** Whether a session that returned this vendor error may serve the next call. */
export function keepsSession(category: PowerShellErrorCategory, errorType: string | undefined): boolean {
  if (ANSWER_CATEGORIES.has(category)) return true;
  return category === 'permanent' && errorType !== undefined && CALLER_FAULT_TYPES.has(errorType);
}

export interface PowerShellErrorDetails {
  op: string;
  endpoint: EndpointName;
  category: PowerShellErrorCategory;
  /** Vendor or .NET error type reported by the module (e.g. `System.Net.WebException`), if any. */
  errorType?: string;
  /** PID of the PowerShell process that ran (or was meant to run) the call, if one was started. */
  pid?: number;
  /** Defaults to the category's retryability. */
  retryable?: boolean;
  cause?: unknown;
}

/** Every failure of `PowerShellPool.invoke` is a PowerShellError. Messages never contain credentials. */
export class PowerShellError extends Error {
  readonly op: string;
  readonly endpoint: EndpointName;
  readonly category: PowerShellErrorCategory;
  readonly retryable: boolean;
  readonly errorType: string | undefined;
  readonly pid: number | undefined;

  constructor(message: string, details: PowerShellErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'PowerShellError';
    this.op = details.op;
    this.endpoint = details.endpoint;
    this.category = details.category;
    this.retryable = details.retryable ?? isRetryableCategory(details.category);
    this.errorType = details.errorType;
    this.pid = details.pid;
  }
}

/**
 * The call was refused before anything was sent to PowerShell: unknown operation, an operation
 * of the other endpoint, or arguments that do not match the operation's schema. Never retryable.
 */
export class PowerShellRequestError extends PowerShellError {
  constructor(message: string, details: Omit<PowerShellErrorDetails, 'category' | 'retryable'>) {
    super(message, { ...details, category: 'permanent', retryable: false });
    this.name = 'PowerShellRequestError';
  }
}

/** Why a signal fired, for a message: " (TIMED_OUT)", or nothing when it says no more than "aborted". */
export function abortReason(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  if (!(reason instanceof Error) || reason.name === 'AbortError' || reason.message === '') return '';
  return ` (${reason.message})`;
}

/** Replaces every occurrence of each secret with `***` (longest first, so no secret leaves a part of another). */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length > 0) out = out.split(secret).join('***');
  }
  return out;
}

/**
 * The forms in which a secret can appear in what PowerShell prints or what we quote: as is, and
 * JSON-escaped (`"` and `\` become `\"` and `\\` inside a JSON document the process printed).
 */
export function secretForms(secret: string): string[] {
  if (secret === '') return [];
  const escaped = JSON.stringify(secret).slice(1, -1);
  return escaped === secret ? [secret] : [secret, escaped];
}

/** The first `max` characters of a text, for error messages, JSON-quoted so control characters show. */
export function excerpt(text: string, max = 200): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(cut);
}

/**
 * An excerpt with every secret form removed first: redacting after the cut or the JSON-quoting would
 * miss a secret that was cut in two or whose `"` and `\` were escaped.
 */
export function redactedExcerpt(text: string, secrets: readonly string[], max = 200): string {
  return excerpt(redact(text, secrets), max);
}
