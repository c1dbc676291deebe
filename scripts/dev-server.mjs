#!/usr/bin/env node
// A persistent Temporal dev server for humans: SQLite file in .data/, Web UI on http://localhost:8233,
// with the product's search attributes (domain/search-attributes.ts) registered.
// Usage: npm run server [-- --port 7233 --ui-port 8233 --db .data/temporal.db]
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { tsImport } from 'tsx/esm/api';

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
// The one list of attributes, read from the TypeScript source (tsx is a dev dependency).
const { devServerSearchAttributeArgs, operatorCreateArgs } = await tsImport(
  '../client/search-attributes.ts',
  import.meta.url,
);
const temporal = join(root, '.tools', 'bin', 'temporal');
const address = `localhost:${values.port}`;
mkdirSync(dirname(values.db), { recursive: true });
const child = spawn(
  temporal,
  [
    'server',
    'start-dev',
    '--port',
    values.port,
    '--ui-port',
    values['ui-port'],
    '--db-filename',
    values.db,
    // Registered when the database is created...
    ...devServerSearchAttributeArgs(),
  ],
  { stdio: 'inherit' },
);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code) => process.exit(code ?? 0));

// ...but a database from before they existed keeps its old list: register what is missing once
// the server answers (idempotent for an attribute that exists with the same type).
const until = Date.now() + 60_000;
for (;;) {
  const result = spawnSync(temporal, [...operatorCreateArgs(), '--address', address], { encoding: 'utf8' });
  if (result.status === 0) break;
  if (/different type/.test(result.stderr) || Date.now() > until) {
    console.error(`dev-server: cannot register the search attributes: ${result.stderr.trim()}`);
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
}
console.error(
  `Temporal dev server on ${address}, Web UI http://localhost:${values['ui-port']}, data ${values.db}, ` +
    `search attributes ${devServerSearchAttributeArgs()
      .filter((a) => a !== '--search-attribute')
      .join(', ')}`,
);
