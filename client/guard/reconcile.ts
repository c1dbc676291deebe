/**
 * Runs the reconciler once, now (CLI `guard reconcile`), and formats what it found and fixed (or,
 * with `dryRun`, what it would restore). The scheduled runs do the same on their own.
 *
 *   const report = await runReconciler(client, { taskQueue, dryRun: true });
 *   for (const line of formatReconcileReport(report)) console.log(line);
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { InvalidInputError } from '../errors';
import { startDetails, summary } from '../metadata';
import {
  RECONCILE_WORKFLOW_TYPE,
  ReconcileInput,
  type reconcilePolicies,
  type ReconcileReport,
} from '../../workflows/reconcile-policies';

export interface ReconcileOptions {
  taskQueue: string;
  dryRun?: boolean;
}

export async function runReconciler(client: Client, options: ReconcileOptions): Promise<ReconcileReport> {
  const request = { dryRun: options.dryRun ?? false };
  const parsed = ReconcileInput.safeParse(request);
  if (!parsed.success) throw InvalidInputError.from(RECONCILE_WORKFLOW_TYPE, parsed.error);
  return client.workflow.execute<typeof reconcilePolicies>(RECONCILE_WORKFLOW_TYPE, {
    taskQueue: options.taskQueue,
    workflowId: `reconcile-policies/manual-${randomUUID()}`,
    args: [request],
    staticSummary: summary(`reconcile VM policies now${request.dryRun ? ', dry run' : ''}`),
    staticDetails: startDetails({ input: request, startedBy: client.options.identity, via: '`guard reconcile`' }),
  });
}

export function formatReconcileReport(report: ReconcileReport): string[] {
  const lines = [
    `${report.dryRun ? 'dry run: ' : ''}${report.found} closed guard(s) on ${report.fvpServer} left a VM in write-through; ` +
      `${report.dryRun ? 'nothing changed' : `restored: ${report.fixed.length ? report.fixed.join(', ') : 'none'}`}`,
  ];
  for (const e of report.entries) {
    lines.push(
      `  ${e.vm}: ${e.outcome}${e.detail ? ` (${e.detail})` : ''} [guard ${e.closedRun.status} ${e.closedRun.closedAt ?? ''}]`,
    );
  }
  return lines;
}
