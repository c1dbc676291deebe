/**
 * The worker: runs the protected-backup workflows, the per-VM guards, the reconciler and their
 * activities (FVP, Veeam, and Temporal-side ones through a Client) on one task queue.
 * Configuration comes from the environment (worker/config.ts); SIGINT/SIGTERM shut it down
 * gracefully; Prometheus metrics come from the Temporal runtime when FVPB_METRICS_ADDRESS is set.
 */
import { Client } from '@temporalio/client';
import { Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { cancelledWithActivity } from '../activities/invoker';
import { createPowerShellClients } from '../activities/powershell';
import { ConfigError, loadConfig } from './config';
import { connect } from './connection';
import { createLogger, temporalLogger } from './logger';
import { workflowsPath } from './bundle';

async function run(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger(config.logLevel);

  Runtime.install({
    logger: temporalLogger(logger),
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    telemetryOptions: config.metricsAddress
      ? { metrics: { prometheus: { bindAddress: config.metricsAddress } } }
      : undefined,
  });

  const powershell = createPowerShellClients({ fvp: config.fvp, veeam: config.veeam }, logger);
  const connection = await connect(config.temporal);
  // The guard's and the reconciler's activities start, signal, describe and list workflows: they
  // share the worker's own connection (a NativeConnection serves a Client too).
  const client = new Client({ connection, namespace: config.temporal.namespace });
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      ...(config.workflowBundle ? { workflowBundle: { codePath: config.workflowBundle } } : { workflowsPath }),
      activities: createActivities({
        // Each PowerShell call is cancelled with the activity attempt that makes it.
        fvp: cancelledWithActivity(powershell.fvp),
        veeam: cancelledWithActivity(powershell.veeam),
        temporal: {
          client,
          taskQueue: config.temporal.taskQueue,
          guard: { fvpServer: config.fvp.server, ...config.guard },
        },
      }),
      maxConcurrentActivityTaskExecutions: config.maxConcurrentActivities,
      maxConcurrentWorkflowTaskExecutions: config.maxConcurrentWorkflowTasks,
      shutdownGraceTime: config.shutdownGrace,
      stickyQueueScheduleToStartTimeout: config.stickyQueueTimeout,
    });
    logger.info(
      {
        taskQueue: config.temporal.taskQueue,
        namespace: config.temporal.namespace,
        address: config.temporal.address,
        metrics: config.metricsAddress ?? 'off',
        bundle: config.workflowBundle ?? 'built at start',
      },
      'worker started',
    );
    await worker.run();
    logger.info({}, 'worker stopped');
  } finally {
    await powershell.close();
    await connection.close();
  }
}

run().catch((err) => {
  // A configuration error is the operator's to fix: say what is wrong, without a stack trace.
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
