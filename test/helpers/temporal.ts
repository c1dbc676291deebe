/**
 * Starts the real Temporal servers for tests: the CLI dev server (full server, real time) and the
 * time-skipping test server, both from .tools/bin via `existing-path`. The dev server has the
 * product's search attributes (domain/search-attributes.ts), as `npm run server` and the demo do:
 * the workflows upsert them, and a start that sets an unregistered one is refused. So has the
 * time-skipping server.
 */
import { execFileSync } from 'node:child_process';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { registerSearchAttributes } from '../../client/search-attributes';
import { SEARCH_ATTRIBUTES } from '../../domain/search-attributes';
import { requireTool, temporalCli, temporalTestServer } from './tools';

export interface DevServerOptions {
  dbFilename?: string;
  port?: number;
  /** Serve the Web UI on this port (the server runs headless without it). */
  uiPort?: number;
  /** More `temporal server start-dev` arguments (dynamic config, for benchmarks). */
  extraArgs?: string[];
}

/** How often a server start is tried: Core waits a fixed 5 s for it, which a loaded 2-core machine can miss. */
const SERVER_STARTS = 3;

/**
 * Starts a server through Core, again when it missed Core's fixed start-up deadline (Core kills
 * that server process first); anything else, such as a missing tool or a bad flag, fails at once.
 */
async function startedWithin<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      const slow = err instanceof Error && /did not start within/.test(err.message);
      if (!slow || attempt >= SERVER_STARTS) throw err;
    }
  }
}

export async function startDevServer(options: DevServerOptions = {}): Promise<TestWorkflowEnvironment> {
  return startedWithin(() =>
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: requireTool(temporalCli) },
        dbFilename: options.dbFilename,
        port: options.port,
        uiPort: options.uiPort,
        // `--search-attribute Name=Type` flags (SDK 1.24); registered when the database is created,
        // which is the first start of a given dbFilename too, so a restarted server keeps them.
        searchAttributes: [...SEARCH_ATTRIBUTES],
        extraArgs: options.extraArgs,
      },
    }),
  );
}

export async function startTimeSkippingServer(): Promise<TestWorkflowEnvironment> {
  const env = await startedWithin(() =>
    TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: requireTool(temporalTestServer) } },
    }),
  );
  // It refuses undefined attributes too, and takes no flag for them: register through its operator API.
  await registerSearchAttributes(env.connection, 'default');
  return env;
}

/**
 * A run's full history as text, the way an operator would export it (`temporal workflow show
 * --output json`), with every payload decoded, so that a scan for secrets sees what is inside.
 */
export function historyText(address: string, workflowId: string): string {
  const json = execFileSync(requireTool(temporalCli), [
    'workflow',
    'show',
    '--address',
    address,
    '--workflow-id',
    workflowId,
    '--output',
    'json',
  ]).toString();
  const decoded: string[] = [];
  JSON.parse(json, (key, value: unknown) => {
    if (key === 'data' && typeof value === 'string') decoded.push(Buffer.from(value, 'base64').toString('utf8'));
    return value;
  });
  return `${json}\n${decoded.join('\n')}`;
}
