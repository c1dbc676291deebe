/**
 * The command line: `npm run cli -- <command> [options]` (or `tsx client/cli.ts`). See README
 * "Starting runs" for the commands and the exit codes; `--help` on any command lists its options.
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
