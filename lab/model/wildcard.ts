/**
 * PowerShell's wildcard matching (System.Management.Automation.WildcardPattern, as a cmdlet's
 * -Name takes it when it "supports wildcards"): `*` any run of characters, `?` one character,
 * `[abc]` and `[a-c]` one character of a set or range, a backtick makes the next character
 * literal; case-insensitive. Whether prnxcli's Set-PrnxAccelerationPolicy -Name does this is
 * unknown (review-reliability.md finding 9): the lab does it only when the scenario says so
 * (fvp.nameParameter 'wildcard'), to show what a raw name would reach.
 */
export function wildcardMatches(pattern: string, name: string): boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '`' && i + 1 < pattern.length) source += escape(pattern[++i]!);
    else if (c === '*') source += '[\\s\\S]*';
    else if (c === '?') source += '[\\s\\S]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) return false; // WildcardPattern rejects an unclosed set: it matches nothing
      source += `[${[...pattern.slice(i + 1, end)].map((ch) => (ch === '-' ? '-' : escape(ch))).join('')}]`;
      i = end;
    } else source += escape(c);
  }
  return new RegExp(`^${source}$`, 'iu').test(name);
}

function escape(c: string): string {
  return c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}
