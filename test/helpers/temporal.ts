/**
 * Starts the real Temporal servers for tests: the CLI dev server (full server, real time) and the
 * time-skipping test server, both from .tools/bin via `existing-path`.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { requireTool, temporalCli, temporalTestServer } from './tools';

export function startDevServer(options: { dbFilename?: string; port?: number } = {}): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: requireTool(temporalCli) },
      dbFilename: options.dbFilename,
      port: options.port,
    },
  });
}

export function startTimeSkippingServer(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: requireTool(temporalTestServer) } },
  });
}
