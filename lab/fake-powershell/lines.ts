/**
 * What the fake PowerShell host understands: exactly the lines node-powershell and our PowerShell
 * boundary send, recognised strictly. Everything else is an error, so that a change on the
 * TypeScript side that sends any other code fails the tests loudly instead of passing by accident.
 *
 * These patterns are written independently of activities/powershell/protocol.ts on purpose.
 */

export type Line =
  | { kind: 'blank' }
  /** node-powershell's delimiters: `[Console]::Out.WriteLine("<delim>")` / `[Console]::Error.WriteLine("<delim>")`. */
  | { kind: 'stdout' | 'stderr'; text: string }
  /** Our init line: UTF-8 output, Import-Module <path given as base64>, then Invoke-Op 'Connect-Endpoint'. */
  | { kind: 'init'; modulePath: string; op: string; argsBase64: string }
  | { kind: 'invoke'; op: string; argsBase64: string }
  | { kind: 'unknown'; text: string };

const B64 = '[A-Za-z0-9+/]*={0,2}';
const NAME = '[A-Z][A-Za-z]*-[A-Z][A-Za-z]*';
const DELIMITER = /^\[Console\]::(Out|Error)\.WriteLine\("([0-9A-Za-z]{1,64})"\)$/;
const INVOKE = new RegExp(`^Invoke-Op '(${NAME})' '(${B64})'$`);
const INIT = new RegExp(
  '^' +
    escape('[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false; ') +
    escape('Import-Module -Name ([System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String(') +
    `'(${B64})'` +
    escape('))) -DisableNameChecking -ErrorAction Stop; ') +
    `Invoke-Op '(Connect-Endpoint)' '(${B64})'` +
    '$',
);

function escape(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Strict base64 (canonical padding), then strict UTF-8; null when either is wrong. */
export function decodeBase64Utf8(b64: string): string | null {
  if (b64.length % 4 !== 0) return null;
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.toString('base64') !== b64) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

export function classify(raw: string): Line {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (line.trim() === '') return { kind: 'blank' };
  const delimiter = DELIMITER.exec(line);
  if (delimiter) return { kind: delimiter[1] === 'Out' ? 'stdout' : 'stderr', text: delimiter[2] as string };
  const invoke = INVOKE.exec(line);
  if (invoke) return { kind: 'invoke', op: invoke[1] as string, argsBase64: invoke[2] as string };
  const init = INIT.exec(line);
  if (init) {
    const modulePath = decodeBase64Utf8(init[1] as string);
    if (modulePath !== null) {
      return { kind: 'init', modulePath, op: init[2] as string, argsBase64: init[3] as string };
    }
  }
  return { kind: 'unknown', text: line };
}

/** What PowerShell prints for a command it does not know. */
export function notRecognized(text: string): string {
  const term = text.trim().split(/\s+/)[0] ?? text;
  const shown = term.length > 80 ? `${term.slice(0, 80)}…` : term;
  return (
    `${shown} : The term '${shown}' is not recognized as the name of a cmdlet, function, script file, ` +
    'or operable program. Check the spelling of the name, or if a path was included, verify that the path ' +
    'is correct and try again. (fake-powershell understands only the lines of the FvpBackup contract)'
  );
}
