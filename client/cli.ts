#!/usr/bin/env node
/**
 * The command line: `fvpb <command> [options]` once built (`npm run build`: dist/client/cli.js,
 * the package's `bin`), or `npm run cli -- <command> [options]` from the sources (tsx). See README
 * "From the command line" for the commands and the exit codes; `--help` on any command lists its
 * options.
 */
import { main } from './cli/program';

async function run(): Promise<void> {
  const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
  process.exit(code);
}

run().catch((err) => {
  console.error(err);
  process.exit(1);
});
