/**
 * How long the CLI takes to start: `--help` of the compiled CLI (`node dist/client/cli.js`, what
 * `fvpb` runs) against the same CLI compiled at run time (`node --import tsx client/cli.ts`, what
 * `npm run cli` runs), each run N times in turn, interleaved so that both see the same machine load.
 * Prints each one's median and the ratio. Needs `npm run build` first.
 *
 *   npm run bench:cli-startup [-- --runs 15]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { median } from './figures';

const root = resolve(__dirname, '..');
const compiled = join(root, 'dist', 'client', 'cli.js');

const Options = z.object({ runs: z.coerce.number().int().min(3).max(200) }).strict();

const variants = [
  { name: 'compiled (node dist/client/cli.js --help)', args: [compiled, '--help'] },
  {
    name: 'tsx      (node --import tsx client/cli.ts --help)',
    args: ['--import', 'tsx', join(root, 'client', 'cli.ts'), '--help'],
  },
];

function timeOnce(args: string[]): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0 || !result.stdout.includes('Usage: fvpb')) {
    throw new Error(`node ${args.join(' ')} failed (exit ${result.status}): ${result.stderr}`);
  }
  return ms;
}

function main(): void {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' } } });
  const options = Options.parse(values);
  if (!existsSync(compiled)) {
    console.error(`${compiled} is missing: run \`npm run build\` first`);
    process.exit(2);
  }
  // One warm-up each: the first start also fills the OS file cache.
  for (const v of variants) timeOnce(v.args);
  const samples = variants.map(() => [] as number[]);
  for (let i = 0; i < options.runs; i++) {
    variants.forEach((v, j) => samples[j]?.push(timeOnce(v.args)));
  }
  const medians = samples.map(median);
  console.log(`CLI start-up, --help, median of ${options.runs} runs each (node ${process.version}):`);
  variants.forEach((v, j) => console.log(`  ${v.name}: ${(medians[j] as number).toFixed(0)} ms`));
  const [fast, slow] = medians as [number, number];
  console.log(`  ratio tsx / compiled: ${(slow / fast).toFixed(2)}x`);
}

main();
