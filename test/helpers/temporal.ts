/**
 * Starts the real Temporal servers for tests: the CLI dev server (full server, real time) and the
 * time-skipping test server, both from .tools/bin via `existing-path`.
 */
import { execFileSync } from 'node:child_process';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { requireTool, temporalCli, temporalTestServer } from './tools';

export interface DevServerOptions {
  dbFilename?: string;
  port?: number;
  /** Serve the Web UI on this port (the server runs headless without it). */
  uiPort?: number;
}

export function startDevServer(options: DevServerOptions = {}): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: requireTool(temporalCli) },
      dbFilename: options.dbFilename,
      port: options.port,
      uiPort: options.uiPort,
    },
  });
}

export function startTimeSkippingServer(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: requireTool(temporalTestServer) } },
  });
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
