/**
 * The worker: runs the protected-backup workflows, the per-VM guards, the reconciler and their
 * activities (FVP, Veeam, and Temporal-side ones through a Client) on one task queue.
 * Configuration comes from the environment (worker/config.ts); SIGINT/SIGTERM shut it down
 * gracefully; Prometheus metrics (the Temporal runtime's and the product's) are served when
 * FVPB_METRICS_ADDRESS is set; notifications go where FVPB_NOTIFY_* says (worker/notify-config.ts).
 */
import { Client } from '@temporalio/client';
import { Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { NotifySettings } from '../activities/notify';
import { cancelledWithActivity } from '../activities/invoker';
import { createPowerShellClients } from '../activities/powershell';
import { ConfigError, loadConfig } from './config';
import { connect } from './connection';
import { createLogger, temporalLogger } from './logger';
import { preloadModules, workflowsPath } from './bundle';
import { metricsTelemetry } from './product-metrics';
import { requireSearchAttributes } from './search-attributes';
import { requireOwnSite, siteFingerprint, workerIdentity } from './site';
import { requireGuardsOfThisServer } from './open-guards';

async function run(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger(config.logLevel);

  Runtime.install({
    logger: temporalLogger(logger),
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    // The runtime's metrics and the product's (worker/product-metrics.ts) on one endpoint.
    telemetryOptions: config.metricsAddress ? { metrics: metricsTelemetry(config.metricsAddress) } : undefined,
  });

  const powershell = createPowerShellClients({ fvp: config.fvp, veeam: config.veeam }, logger);
  const connection = await connect(config.temporal);
  await requireSearchAttributes(connection, config.temporal.namespace);
  const site = siteFingerprint({ fvp: config.fvp.server, veeam: config.veeam.server });
  await requireOwnSite(connection, config.temporal.namespace, config.temporal.taskQueue, site);
  // The guard's and the reconciler's activities start, signal, describe and list workflows: they
  // share the worker's own connection (a NativeConnection serves a Client too).
  const client = new Client({ connection, namespace: config.temporal.namespace });
  try {
    await requireGuardsOfThisServer(client, config.temporal.taskQueue, config.fvp.server);
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      identity: workerIdentity(site),
      ...(config.workflowBundle
        ? { workflowBundle: { codePath: config.workflowBundle } }
        : { workflowsPath, bundlerOptions: { preloadModules } }),
      activities: createActivities({
        // Each PowerShell call is cancelled with the activity attempt that makes it.
        fvp: cancelledWithActivity(powershell.fvp),
        veeam: cancelledWithActivity(powershell.veeam),
        temporal: {
          client,
          taskQueue: config.temporal.taskQueue,
          guard: { fvpServer: config.fvp.server, ...config.guard },
        },
        notify: config.notify,
      }),
      maxConcurrentActivityTaskExecutions: config.maxConcurrentActivities,
      maxConcurrentWorkflowTaskExecutions: config.maxConcurrentWorkflowTasks,
      ...(config.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: config.maxCachedWorkflows } : {}),
      shutdownGraceTime: config.shutdownGrace,
      stickyQueueScheduleToStartTimeout: config.stickyQueueTimeout,
    });
    logger.info(
      {
        taskQueue: config.temporal.taskQueue,
        site,
        namespace: config.temporal.namespace,
        address: config.temporal.address,
        metrics: config.metricsAddress ?? 'off',
        // Channel names only: the URLs and the SMTP password are secrets.
        notify: notifyChannels(config.notify),
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

function notifyChannels(notify: NotifySettings): string[] | 'off' {
  const channels = [...notify.webhooks.map((w) => `webhook:${w.name}`), ...(notify.mail ? ['mail'] : [])];
  return channels.length ? channels : 'off';
}
