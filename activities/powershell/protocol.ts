/**
 * The text that crosses stdin/stdout. Every value travels as base64 of UTF-8 JSON and is decoded
 * inside PowerShell: the only PowerShell code we ever send is the fixed text below.
 *
 * Init line (once per process, one line):
 *   [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false; Import-Module -Name
 *   ([System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String('<b64 path>')))
 *   -DisableNameChecking -ErrorAction Stop; Invoke-Op 'Connect-Endpoint' '<b64 JSON args>'
 * Invocation line:
 *   Invoke-Op '<Function>' '<b64 JSON args>'
 * Each prints exactly one JSON `Envelope` line.
 */
import { Envelope, operationNames, type OperationName } from './operations';

/** Characters base64 can produce: nothing PowerShell could read as code inside '...'. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Verb-Noun with letters only, so a name can sit between single quotes. */
const FUNCTION_NAME = /^[A-Z][A-Za-z]*-[A-Z][A-Za-z]*$/;

export function isOperationName(name: unknown): name is OperationName {
  return typeof name === 'string' && (operationNames as readonly string[]).includes(name);
}

export function toBase64Json(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError('value cannot be represented as JSON');
  return Buffer.from(json, 'utf8').toString('base64');
}

function quotedBase64(b64: string): string {
  if (!BASE64.test(b64)) throw new Error('internal: not base64');
  return `'${b64}'`;
}

/** One line, `Invoke-Op '<op>' '<base64>'`; the name must be one of the contract's operations. */
export function invocationLine(op: OperationName, args: unknown): string {
  if (!isOperationName(op) || !FUNCTION_NAME.test(op))
    throw new Error(`internal: ${JSON.stringify(op)} is not an operation`);
  return `Invoke-Op '${op}' ${quotedBase64(toBase64Json(args))}`;
}

/** The init line: UTF-8 output, import our module from `modulePath`, then Connect-Endpoint. */
export function initLine(modulePath: string, connectArgs: unknown): string {
  const path = quotedBase64(Buffer.from(modulePath, 'utf8').toString('base64'));
  return (
    '[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false; ' +
    `Import-Module -Name ([System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String(${path}))) ` +
    '-DisableNameChecking -ErrorAction Stop; ' +
    invocationLine('Connect-Endpoint', connectArgs)
  );
}

export type ParsedOutput = { ok: true; envelope: Envelope } | { ok: false; reason: string };

/** Exactly one JSON document that is an Envelope for `op`; anything else is a reason to give up on the session. */
export function parseOutput(op: string, raw: string): ParsedOutput {
  const text = raw.replace(/^\uFEFF/, '').trim();
  if (text === '') return { ok: false, reason: 'printed nothing' };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'returned output that is not one JSON document' };
  }
  const envelope = Envelope.safeParse(doc);
  if (!envelope.success) return { ok: false, reason: 'returned a JSON document that is not an Invoke-Op envelope' };
  if (envelope.data.op !== op) {
    return { ok: false, reason: `returned the envelope of another operation (${JSON.stringify(envelope.data.op)})` };
  }
  return { ok: true, envelope: envelope.data };
}
