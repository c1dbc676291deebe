/**
 * Starts the real Temporal servers for tests: the CLI dev server (full server, real time) and the
 * time-skipping test server, both from .tools/bin via `existing-path`.
 */
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
