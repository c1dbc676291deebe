#!/usr/bin/env node
// `npm test`: works on a fresh clone, like `npm run demo`. Installs what is missing first (npm ci
// when node_modules is absent, the pinned Temporal binaries through `npm run bootstrap`, and for
// the Web UI test Debian's Chromium with apt-get when running as root, else it stops at once with
// the command to run), then runs every test/**/*.test.ts with Node's own test runner (through
// tsx), one file at a time: integration tests start real servers and worker processes, and the
// machine has two cores. Nothing is downloaded while the tests run.
// Usage: npm test [-- <substring filter>...]
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const filters = process.argv.slice(2);

/** The browser test/e2e/web-ui.test.ts drives (playwright-core with Debian's build). */
const CHROMIUM = '/usr/bin/chromium';
const WEB_UI_TEST = join('test', 'e2e', 'web-ui.test.ts');
const APT_INSTALL = 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium';

function step(command, args, env = process.env) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env });
  if (result.status !== 0) {
    console.error(`test: \`${[command, ...args].join(' ')}\` failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}

function collect(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'fixtures' ? [] : collect(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const onPath = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

/** Chromium from Debian's archive: installed when we may (root, apt), else the exact command and stop. */
function ensureChromium() {
  if (executable(CHROMIUM)) return;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !onPath('apt-get')) {
    const command = isRoot ? APT_INSTALL : `sudo ${APT_INSTALL.replaceAll('&& ', '&& sudo ')}`;
    console.error(
      `test: ${CHROMIUM} is missing; the Web UI test (${WEB_UI_TEST}) drives it. Install Debian's Chromium, then run npm test again:\n` +
        `  ${command}\n` +
        '(or run the other tests only: npm test -- <filter>)',
    );
    process.exit(1);
  }
  console.error(`test: ${CHROMIUM} is missing: ${APT_INSTALL}`);
  step('apt-get', ['update']);
  step('apt-get', ['install', '-y', 'chromium'], { ...process.env, DEBIAN_FRONTEND: 'noninteractive' });
}

const files = collect(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((flt) => f.includes(flt)))
  .sort();

if (files.length === 0) {
  console.error(`no test files match ${JSON.stringify(filters)}`);
  process.exit(1);
}

// What the tests need, in the order the demo installs it; each step does nothing when it is there.
if (!existsSync(join(root, 'node_modules'))) {
  console.error('test: node_modules is missing: npm ci');
  step(npm, ['ci', '--no-audit', '--no-fund']);
}
step(process.execPath, [join(root, 'scripts', 'bootstrap.mjs')]);
if (files.includes(WEB_UI_TEST)) ensureChromium();

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
