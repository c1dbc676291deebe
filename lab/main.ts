/**
 * The lab: a SIMULATOR of a PernixData FVP cluster, a Veeam Backup & Replication server and the
 * PowerShell module of this project, for tests, the demo and benchmarks. Nothing here talks to a
 * real FVP, Veeam or PowerShell host; the fake PowerShell executable (lab/fake-powershell)
 * forwards each `Invoke-Op` line to this server's POST /ps/invoke.
 *
 * What it simulates: VMs with a requested and an effective caching policy, a guest write stream
 * and a destage lag per VM (write-back -> write-through takes effect only once the dirty writes
 * reached the array); hosts without flash; a management server that can be down; proxies with a
 * VADP blacklist flag; Veeam jobs whose sessions go Starting -> Working -> Stopped with per-VM
 * tasks; a verdict per VM snapshot (consistent only if every acknowledged write was on the array);
 * fault injection (failing, dying, hanging, garbage-printing or slow host processes).
 *
 * Unconfirmed vendor facts it simulates (DOMAIN.md; see UNCONFIRMED_FACTS in lab/doctor.ts):
 * what -WaitTimeSeconds waits for (here: at most min(N s, waitTimeCapMs), then returns, flushed or
 * not); Get-PrnxAccelerationPolicy -Effective and Get-PrnxObjectStats time_to_destage as the way to
 * read the flush state; -NumWBExternalPeers failing without fault domains (here: permanent error);
 * Start-VBRJob -RunAsync's return type; "already running" failing on start.
 *
 * Usage: node --import tsx lab/main.ts [--port 0] [--state-file lab-state.json] [--scenario s.yaml]
 * Prints one line `{"url":"http://127.0.0.1:PORT"}` on stdout once listening. State (a JSON file,
 * rewritten atomically after every change) is loaded at start if the file exists, so a restarted
 * lab continues where it stopped; without a state file and --scenario it runs defaultScenario().
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { Lab } from './lab';
import { defaultScenario } from './scenario';
import { createLabServer } from './server';
import { StateStore } from './store';

const CliOptions = z
  .object({
    port: z.coerce.number().int().min(0).max(65535),
    stateFile: z.string().min(1).optional(),
    scenario: z.string().min(1).optional(),
  })
  .strict();

const flagNames: Record<string, string> = { port: '--port', stateFile: '--state-file', scenario: '--scenario' };

function usageError(message: string): never {
  process.stderr.write(`lab: ${message}\n`);
  process.exit(2);
}

function fatal(message: string): never {
  process.stderr.write(`lab: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv: string[]): z.infer<typeof CliOptions> {
  const program = new Command()
    .name('lab')
    .description('The fvp-backup lab: a simulated FVP cluster, Veeam server and PowerShell host (a simulator).')
    .option('--port <port>', 'TCP port on 127.0.0.1 (0 = a free one)', '0')
    .option('--state-file <path>', 'JSON file holding the lab state (loaded at start, rewritten after every change)')
    .option('--scenario <file>', 'JSON or YAML scenario to load at start (replaces any saved state)')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  try {
    program.parse(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') process.exit(0);
      process.exit(2);
    }
    throw error;
  }
  const parsed = CliOptions.safeParse(program.opts());
  if (!parsed.success) {
    usageError(
      parsed.error.issues
        .map((issue) => `${flagNames[String(issue.path[0])] ?? String(issue.path[0])}: ${issue.message}`)
        .join('; '),
    );
  }
  return parsed.data;
}

function readScenarioFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    usageError(`--scenario: cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return parseYaml(text) as unknown;
  } catch (error) {
    usageError(`--scenario: ${path} is not JSON or YAML: ${(error as Error).message}`);
  }
}

function main(): void {
  const options = parseArgs(process.argv);
  const store = options.stateFile === undefined ? null : new StateStore(options.stateFile);
  const scenario = options.scenario === undefined ? undefined : readScenarioFile(options.scenario);

  let lab: Lab | undefined;
  const persist = (): void => {
    if (lab !== undefined && lab.takeDirty() && store !== null) store.save(lab.state);
  };
  const labOptions = {
    sink: store?.sink,
    onChange: () =>
      queueMicrotask(() => {
        try {
          persist();
        } catch (error) {
          process.stderr.write(`lab: cannot save state: ${(error as Error).message}\n`);
        }
      }),
  };

  let loaded: ReturnType<StateStore['load']> = null;
  try {
    loaded = store?.load() ?? null;
  } catch (error) {
    fatal((error as Error).message);
  }
  try {
    if (loaded !== null) {
      lab = new Lab(loaded.state, { ...labOptions, invocations: loaded.invocations });
      if (scenario !== undefined) lab.loadScenario(scenario);
    } else {
      lab = Lab.fromScenario(scenario ?? defaultScenario(), labOptions);
    }
  } catch (error) {
    usageError(`--scenario: ${(error as Error).message}`);
  }
  try {
    persist();
  } catch (error) {
    fatal(`cannot write the state file: ${(error as Error).message}`);
  }

  const server = createLabServer({ lab, persist });
  server.on('error', (error) => fatal(`cannot listen on 127.0.0.1:${options.port}: ${error.message}`));
  server.listen(options.port, '127.0.0.1', () => {
    const address = server.address();
    if (address === null || typeof address === 'string') fatal('unexpected server address');
    process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${address.port}` })}\n`);
  });

  const shutdown = (): void => {
    server.close();
    server.closeAllConnections();
    try {
      persist();
    } finally {
      process.exit(0);
    }
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main();
