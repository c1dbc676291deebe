#!/usr/bin/env node
// A persistent Temporal dev server for humans: SQLite file in .data/, Web UI on http://localhost:8233.
// Usage: npm run server [-- --port 7233 --ui-port 8233 --db .data/temporal.db]
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '7233' },
    'ui-port': { type: 'string', default: '8233' },
    db: { type: 'string', default: join(root, '.data', 'temporal.db') },
  },
});
for (const key of ['port', 'ui-port']) {
  if (!/^\d{1,5}$/.test(values[key])) {
    console.error(`--${key} must be a port number, got ${JSON.stringify(values[key])}`);
    process.exit(2);
  }
}

execFileSync(process.execPath, [join(root, 'scripts', 'bootstrap.mjs')], { stdio: 'inherit' });
mkdirSync(dirname(values.db), { recursive: true });
const child = spawn(
  join(root, '.tools', 'bin', 'temporal'),
  ['server', 'start-dev', '--port', values.port, '--ui-port', values['ui-port'], '--db-filename', values.db],
  { stdio: 'inherit' },
);
console.error(
  `Temporal dev server on localhost:${values.port}, Web UI http://localhost:${values['ui-port']}, data ${values.db}`,
);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code) => process.exit(code ?? 0));
