/**
 * One worker configuration per task queue. Guards and runs send their calls to whichever worker
 * polls the queue: a queue served by workers configured for different FVP or Veeam servers would
 * send a guard's restore to the wrong management server. So every worker names its site (a
 * fingerprint of the servers it talks to) in its identity, and refuses to start on a queue that
 * workers of another site poll. Several sites: one task queue each (README, "Several sites").
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { NativeConnection } from '@temporalio/worker';
import { canonicalHostName } from '../domain/endpoint';
import { ConfigError } from './config';

/**
 * The servers that make a site: the FVP management server and the VBR server, each as one spelling
 * (case and a trailing dot do not make another site; guard ids spell the FVP server the same way).
 */
export function siteFingerprint(servers: { fvp: string; veeam: string }): string {
  const canonical = JSON.stringify({ fvp: canonicalHostName(servers.fvp), veeam: canonicalHostName(servers.veeam) });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}

/** The worker's identity as Temporal shows it (pollers, history): who, where, and which site. */
export function workerIdentity(site: string): string {
  return `${process.pid}@${hostname()} fvpb site=${site}`;
}

/** temporal.api.enums.v1 values (TaskQueueType WORKFLOW and ACTIVITY, TaskQueueKind NORMAL). */
const TASK_QUEUE_TYPES = [1, 2] as const;
const TASK_QUEUE_KIND_NORMAL = 1;

const SITE_IN_IDENTITY = / fvpb site=([0-9a-f]{12})$/;

/** Refuses a queue that pollers of another site serve (pollers seen in the last minutes). */
export async function requireOwnSite(
  connection: NativeConnection,
  namespace: string,
  taskQueue: string,
  site: string,
): Promise<void> {
  const others = new Set<string>();
  for (const taskQueueType of TASK_QUEUE_TYPES) {
    const { pollers } = await connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue, kind: TASK_QUEUE_KIND_NORMAL },
      taskQueueType,
    });
    for (const poller of pollers ?? []) {
      const theirs = SITE_IN_IDENTITY.exec(poller.identity ?? '')?.[1];
      if (theirs && theirs !== site) others.add(poller.identity ?? theirs);
    }
  }
  if (others.size === 0) return;
  throw new ConfigError(
    `task queue ${JSON.stringify(taskQueue)} is served by workers of another site (other FVP or Veeam servers): ` +
      `${[...others].join(', ')}; give each site its own TEMPORAL_TASK_QUEUE`,
  );
}
