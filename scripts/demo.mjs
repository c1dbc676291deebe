#!/usr/bin/env node
// `npm run demo`: works on a fresh clone. Installs what is missing (npm ci when node_modules is
// absent, the pinned Temporal CLI through `npm run bootstrap`), then hands over to scripts/demo.ts,
// which starts the dev server with its Web UI, the lab and a worker, and runs a protected backup.
// Usage: npm run demo [-- --exit] [--port 7233] [--ui-port 8233] [--data-dir .data]
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function step(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`demo: \`${[command, ...args].join(' ')}\` failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}

if (!existsSync(join(root, 'node_modules'))) {
  console.error('demo: node_modules is missing: npm ci');
  step(npm, ['ci', '--no-audit', '--no-fund']);
}
step(process.execPath, [join(root, 'scripts', 'bootstrap.mjs')]);

const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'demo.ts'), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
// Ctrl-C reaches the whole process group; demo.ts stops everything and exits: wait for it.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
