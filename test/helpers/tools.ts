/**
 * Paths of the Temporal binaries that `npm run bootstrap` installs. Every server the tests, the
 * demo and the benchmarks start comes from here, through `existing-path`: nothing downloads.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '..', '..');
export const temporalCli = join(repoRoot, '.tools', 'bin', 'temporal');
export const temporalTestServer = join(repoRoot, '.tools', 'bin', 'temporal-test-server');

export function requireTool(path: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run bootstrap\` first`);
  return path;
}
