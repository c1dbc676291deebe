/**
 * Finding 2 of issue 11: a WinRM session (wsmprovhost, host name 'ServerRemoteHost') has no
 * console, and setting [Console]::OutputEncoding there throws "The handle is invalid" (posh-git
 * #708, fixed in #727 by catching it). With $ErrorActionPreference = 'Stop' that would abort the
 * module's load by New-Module in Open-RemoteModule. No PowerShell runs here, so the module text is
 * checked: every place that sets the console encoding does so only where a console exists, and
 * cannot throw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULT_MODULE_PATH } from '../../activities/powershell/pool';

const psm1 = readFileSync(DEFAULT_MODULE_PATH, 'utf8');
/** The module's code: the comment-based help blocks removed (the header quotes the init line). */
const code = psm1.replace(/<#[\s\S]*?#>/g, (block) => block.replace(/[^\n]/g, ''));
const lines = code.split('\n');

test('the module sets [Console]::OutputEncoding only inside try, and not in a remote session', () => {
  const setters = lines
    .map((line, index) => ({ line, index }))
    .filter(({ line }) => /\[Console\]::OutputEncoding\s*=/.test(line) && !/^\s*#/.test(line));
  assert.ok(setters.length >= 1, 'the module still sets the encoding where a console exists');
  for (const { line, index } of setters) {
    assert.match(
      line,
      /\btry\s*\{\s*\[Console\]::OutputEncoding\s*=.*\}\s*catch\s*\{/,
      `line ${index + 1} is in try/catch`,
    );
    // The enclosing block (the nearest unclosed `{` above) is the host check.
    let depth = 0;
    let guard: string | undefined;
    for (let i = index - 1; i >= 0 && guard === undefined; i--) {
      const text = lines[i] as string;
      depth += (text.match(/\}/g) ?? []).length - (text.match(/\{/g) ?? []).length;
      if (depth < 0) guard = text;
    }
    assert.ok(guard !== undefined, `line ${index + 1} is inside a block`);
    assert.match(guard, /if \(\$Host\.Name -ne 'ServerRemoteHost'\)/, `line ${index + 1} is guarded by the host check`);
  }
});

test('the remote load path runs the module text as it is (no console call outside the guard)', () => {
  // Open-RemoteModule loads this very file's text with New-Module: the guarded top level is what runs there.
  assert.match(code, /New-Module -Name 'FvpBackup' -ScriptBlock \(\[ScriptBlock\]::Create\(\$text\)\)/);
  // Nothing else at the top level touches the console (Invoke-Op writes with [Console]::Out only locally).
  const topLevelConsole = lines.filter((l) => /^\S.*\[Console\]::/.test(l) && !/^\s*#/.test(l));
  assert.deepEqual(topLevelConsole, [], 'no unguarded top-level [Console] call');
});
