/**
 * What the Web UI shows of a workflow before anyone opens it: the static summary (one line in the
 * list of runs, at most 200 bytes) and the static details (markdown on the run's page, at most
 * 20 KB) that every start sets: the client and the CLI, the schedules, the reconciler, the doctor,
 * and the guards the worker starts. The workflows keep their *current* details up to date
 * themselves; these say what was asked, by whom and from where.
 *
 *   staticSummary: runSummary(input)            // "Nightly-SQL: 3 VMs, directsan"
 *   staticDetails: startDetails({ input, startedBy: client.options.identity, via: 'CLI `run`' })
 */

/** Temporal's bounds (the server refuses more): summary 200 bytes, details 20 KB. */
const MAX_SUMMARY_BYTES = 200;
const MAX_DETAILS_BYTES = 20_000;
/** Of the details, what the input may take; a longer input is cut (the run's input has all of it). */
const MAX_INPUT_BYTES = 16_000;

function bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Cuts `text` to at most `max` UTF-8 bytes, on a character boundary, with an ellipsis. */
export function truncateBytes(text: string, max: number): string {
  if (bytes(text) <= max) return text;
  let out = '';
  for (const ch of text) {
    if (bytes(out + ch) > max - 3) break;
    out += ch;
  }
  return `${out}…`;
}

export interface RunShape {
  job: string;
  vms?: readonly string[];
  transportMode?: string;
  dryRun?: boolean;
}

/**
 * `Nightly-SQL: 3 VMs, directsan`: the job, the VMs the input names (else "job's VMs": the workflow
 * resolves them), the transport mode, and "dry run" when it is one. The VM count is what the input
 * names besides the job's own; the workflow's current details list every VM it resolved.
 */
export function runSummary(input: RunShape): string {
  const count = input.vms?.length;
  const vms = count ? `${count} VM${count === 1 ? '' : 's'}` : "job's VMs";
  const tail = `: ${vms}, ${input.transportMode ?? 'auto'}${input.dryRun ? ', dry run' : ''}`;
  // The job name is cut, never the facts after it.
  return `${truncateBytes(input.job, MAX_SUMMARY_BYTES - bytes(tail))}${tail}`;
}

/** A one-line summary of any other start (doctor, reconciler, guard), within the bound. */
export function summary(text: string): string {
  return truncateBytes(text, MAX_SUMMARY_BYTES);
}

export interface DetailsOptions {
  /** The workflow's input, shown as JSON. */
  input: unknown;
  /** Who started it and from where: the client's identity (`<user>@<host> fvpb-cli`) or "schedule <id>". */
  startedBy: string;
  /** Through what: "CLI `run`", "client library", "schedule file of owner ops-backup", ... */
  via?: string;
}

/** A markdown block: who started it, through what, and the input. */
export function startDetails({ input, startedBy, via }: DetailsOptions): string {
  const json = truncateBytes(JSON.stringify(input, null, 2) ?? 'null', MAX_INPUT_BYTES);
  const who = `**Started by** ${inlineCode(startedBy)}${via ? ` through ${via}` : ''}`;
  return truncateBytes(`${who}\n\n**Input**\n\n${fenced('json', json)}\n`, MAX_DETAILS_BYTES);
}

function longestBacktickRun(text: string): number {
  return Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
}

/** A fenced block that a run of backticks inside (a VM named so) cannot close. */
function fenced(lang: string, text: string): string {
  const fence = '`'.repeat(Math.max(3, longestBacktickRun(text) + 1));
  return `${fence}${lang}\n${text}\n${fence}`;
}

/** Markdown inline code that no backtick in the text can close early. */
function inlineCode(text: string): string {
  const fence = '`'.repeat(longestBacktickRun(text) + 1);
  return `${fence}${fence.length > 1 ? ' ' : ''}${text}${fence.length > 1 ? ' ' : ''}${fence}`;
}
