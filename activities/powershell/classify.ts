/**
 * What a failed call means (issue 11): the module returns the raw facts of an error (its own code,
 * the message, FullyQualifiedErrorId, every exception's type and message) and this table decides
 * its category. ADAPT IT to the messages of your FVP and Veeam versions: each rule is a regular
 * expression matched, case-insensitively, against the FullyQualifiedErrorId and every exception's
 * type name and message; the first match wins.
 *
 * An error no rule recognises is `unrecognised` (finding 5: it used to default to transient, so a
 * restore refused for a reason nobody foresaw retried forever, silently): never retried by
 * Temporal, so a forward step fails closed, and the restore loop, which never gives up by design,
 * names the error in every failure and notification. Add a rule for it once you know what it means.
 */
import type { ErrorCategory, RawError } from './operations';

export interface Classified {
  /** The error's type: the module's code, a rule's type, or the outermost exception's type name. */
  type: string;
  message: string;
  category: ErrorCategory;
}

interface Rule {
  category: ErrorCategory;
  /** A fixed type for what the rule recognises (else the exception's own type name). */
  type?: string;
  pattern: RegExp;
}

/** Vendor errors (no module code), first match wins. */
export const VENDOR_ERROR_RULES: readonly Rule[] = [
  {
    category: 'already-running',
    type: 'JobAlreadyRunning',
    pattern: /already running|is already in progress|job is running/i,
  },
  {
    category: 'not-connected',
    type: 'NotConnected',
    pattern:
      /not connected|no connection to|connect to .+ first|session (has )?expired|PSRemotingTransportException|remote session .*(closed|broken)/i,
  },
  {
    category: 'permanent',
    pattern:
      /ParameterBinding|A parameter cannot be found|Cannot bind parameter|Cannot validate argument|CommandNotFoundException|is not recognized as the name of a cmdlet|authenticat|logon failure|access (is )?denied|unauthori[sz]ed/i,
  },
  {
    category: 'transient',
    pattern:
      /management server|unable to connect|could not connect|cannot connect|failed to connect|connection|timed? ?out|temporarily unavailable|service unavailable|RPC server|WebException|SocketException|TimeoutException|EndpointNotFoundException|CommunicationException|busy/i,
  },
  {
    category: 'permanent',
    pattern:
      /not found|cannot find|does not exist|no such|invalid|ArgumentException|ItemNotFoundException|not supported/i,
  },
];

/**
 * The codes of the errors the module raises itself (New-OpError), each with its category.
 * `JobStartFailed` is special: Start-VBRJob failed, and the vendor error inside decides (already
 * running: nothing started; anything else: it may have). Finding the session a start created is the
 * worker's (activities/veeam.ts startJobOnce), which says `SessionNotFound` itself.
 */
export const MODULE_CODES: Readonly<Record<string, ErrorCategory>> = {
  InvalidArgument: 'permanent',
  CommandNotFound: 'permanent',
  SerializationFailed: 'permanent',
  VendorMismatch: 'permanent',
  JobNotFound: 'permanent',
  JobAmbiguous: 'permanent',
  NotConnected: 'not-connected',
  FenceMoved: 'fence-moved',
  JobAlreadyRunning: 'already-running',
};

function byRules(raw: RawError, exceptions: RawError['exceptions']): Classified | null {
  const text = [raw.errorId ?? '', ...exceptions.flatMap((e) => [e.type, e.message])].join('\n');
  const outermost = exceptions[0]?.type ?? 'Error';
  const rule = VENDOR_ERROR_RULES.find((r) => r.pattern.test(text));
  return rule === undefined ? null : { type: rule.type ?? outermost, message: raw.message, category: rule.category };
}

export function classifyVendorError(raw: RawError): Classified {
  if (raw.code === 'JobStartFailed') {
    // The module's own exception is the outermost; the vendor's error is inside it.
    const inner = byRules(raw, raw.exceptions.slice(1));
    if (inner?.category === 'already-running') return inner;
    return { type: 'JobStartUnknown', message: raw.message, category: 'start-unknown' };
  }
  if (raw.code !== null) {
    const category = MODULE_CODES[raw.code] ?? 'permanent';
    return { type: raw.code, message: raw.message, category };
  }
  const known = byRules(raw, raw.exceptions);
  if (known !== null) return known;
  const outermost = raw.exceptions[0];
  const name = outermost?.type ?? 'Error';
  return {
    type: name,
    message:
      `unrecognised vendor error ${name}: ${raw.message} (no rule of activities/powershell/classify.ts knows it: ` +
      'not retried; add a rule once you know what it means)',
    category: 'unrecognised',
  };
}
