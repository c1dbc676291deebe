/**
 * The product's own metrics, beside the Temporal runtime's on the worker's Prometheus endpoint
 * (FVPB_METRICS_ADDRESS): their names, what each means, and a tiny API to emit them. Pure and
 * workflow-safe.
 *
 * Two ways in:
 * - workflow code calls the functions at the bottom (`recordRunOutcome`, `vmWriteThrough`, ...):
 *   they emit through `@temporalio/workflow`'s `metricMeter`, which emits nothing while a workflow
 *   replays, so a metric counts what happened once, not once per replay (the worker adds the
 *   namespace and task queue, the meter the workflow type);
 * - worker and activity code builds `productMetrics(meter)` over the runtime's or the activity's
 *   meter (worker/product-metrics.ts).
 *
 * A gauge lives in the memory of the worker process that set it: after a worker restart the series
 * is gone until the workflow sets it again (a replay sets nothing). Code that owns a gauge's truth
 * (the per-VM guard) should set it again on its periodic checks, not only on transitions.
 *
 * Names are exported unchanged by the Prometheus exporter (no prefix, no unit suffix: the worker
 * leaves `unitSuffix` and `countersTotalSuffix` off), so the names here are the names to alert on.
 */
import type { MetricMeter, MetricTags } from '@temporalio/common';
import { metricMeter as workflowMetricMeter } from '@temporalio/workflow';
import { z } from 'zod';

/** How a run ended, as the workflow sees it (terminate and timeouts run no workflow code). */
export const RunOutcome = z.enum(['completed', 'warning', 'failed', 'cancelled']);
export type RunOutcome = z.infer<typeof RunOutcome>;

interface MetricDefinition {
  name: string;
  kind: 'counter' | 'gauge' | 'histogram';
  valueType: 'int' | 'float';
  description: string;
  /**
   * The labels the product sets (the worker adds namespace, taskQueue, workflowType). Never `job` or
   * `instance`: Prometheus sets those on every scraped series and renames a metric's own to exported_job.
   */
  labels: readonly string[];
  /** Bucket boundaries for a histogram, in its own unit. */
  buckets?: readonly number[];
}

/** Seconds: from a fast flush to a VM left in write-through for a day. */
const SECONDS_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400] as const;

export const PRODUCT_METRICS = {
  vmsWriteThrough: {
    name: 'fvpb_vms_write_through',
    kind: 'gauge',
    valueType: 'int',
    description: '1 while a guard owes the VM a restore of its recorded write-back policy, else 0',
    labels: ['vm'],
  },
  writeThroughSeconds: {
    name: 'fvpb_write_through_seconds',
    kind: 'histogram',
    valueType: 'float',
    description: 'Seconds a VM spent in write-through, from the switch to its verified restore',
    labels: ['vm'],
    buckets: SECONDS_BUCKETS,
  },
  flushSeconds: {
    name: 'fvpb_flush_seconds',
    kind: 'histogram',
    valueType: 'float',
    description: 'Seconds from the switch to write-through to the verified flush of a VM',
    labels: ['vm'],
    buckets: SECONDS_BUCKETS,
  },
  restoreAttempts: {
    name: 'fvpb_restore_attempts_total',
    kind: 'counter',
    valueType: 'int',
    description: 'Attempts to give a VM its recorded policy back',
    labels: ['vm'],
  },
  restoreFailures: {
    name: 'fvpb_restore_failures_total',
    kind: 'counter',
    valueType: 'int',
    description: 'Restore attempts that failed (the restore is retried)',
    labels: ['vm'],
  },
  runs: {
    name: 'fvpb_runs_total',
    kind: 'counter',
    valueType: 'int',
    description: 'Protected backup runs by outcome',
    labels: ['outcome', 'backup_job'],
  },
  backedUpUnprotected: {
    name: 'fvpb_backed_up_unprotected_total',
    kind: 'counter',
    valueType: 'int',
    description: 'VMs a Veeam session read while they were not verified in write-through',
    labels: ['vm', 'backup_job'],
  },
} as const satisfies Record<string, MetricDefinition>;

export type ProductMetricName = (typeof PRODUCT_METRICS)[keyof typeof PRODUCT_METRICS]['name'];
export const PRODUCT_METRIC_NAMES: readonly ProductMetricName[] = Object.values(PRODUCT_METRICS).map((m) => m.name);

/** Histogram bucket boundaries by metric name, for the exporter's `histogramBucketOverrides`. */
export function productHistogramBuckets(): Record<string, number[]> {
  const buckets: Record<string, number[]> = {};
  for (const m of Object.values(PRODUCT_METRICS) as MetricDefinition[]) {
    if (m.buckets) buckets[m.name] = [...m.buckets];
  }
  return buckets;
}

/** The product's metrics over one meter. Labels are bounded by what the product manages (its VMs and jobs). */
export interface ProductMetrics {
  /** One run ended: `fvpb_runs_total{outcome, backup_job}` += 1 (`job` is the Veeam job). */
  recordRunOutcome(outcome: RunOutcome, job: string): void;
  /** `fvpb_vms_write_through{vm}` = 1 while a restore is owed (`on`), else 0. */
  vmWriteThrough(vm: string, on: boolean): void;
  /** A VM's write-through ended (restored): `fvpb_write_through_seconds{vm}` observes `seconds`. */
  writeThroughEnded(vm: string, seconds: number): void;
  /** A VM's flush was verified: `fvpb_flush_seconds{vm}` observes `seconds`. */
  flushVerified(vm: string, seconds: number): void;
  /** One restore attempt and how it went: `fvpb_restore_attempts_total{vm}` += 1, and `fvpb_restore_failures_total{vm}` += 1 if it failed. */
  restoreAttempt(vm: string, succeeded: boolean): void;
  /** A VM was backed up without verified protection: `fvpb_backed_up_unprotected_total{vm, backup_job}` += 1. */
  backedUpUnprotected(vm: string, job: string): void;
}

export function productMetrics(meter: MetricMeter): ProductMetrics {
  const m = PRODUCT_METRICS;
  // Units stay undefined on purpose: with the exporter's unit suffix turned on they would change the names.
  const counter = (d: MetricDefinition, tags: MetricTags) =>
    meter.createCounter(d.name, undefined, d.description).add(1, tags);
  const histogram = (d: MetricDefinition, value: number, tags: MetricTags) =>
    meter.createHistogram(d.name, d.valueType, undefined, d.description).record(Math.max(0, value), tags);
  return {
    recordRunOutcome: (outcome, job) => counter(m.runs, { outcome, backup_job: job }),
    vmWriteThrough: (vm, on) =>
      meter
        .createGauge(m.vmsWriteThrough.name, 'int', undefined, m.vmsWriteThrough.description)
        .set(on ? 1 : 0, { vm }),
    writeThroughEnded: (vm, seconds) => histogram(m.writeThroughSeconds, seconds, { vm }),
    flushVerified: (vm, seconds) => histogram(m.flushSeconds, seconds, { vm }),
    restoreAttempt: (vm, succeeded) => {
      counter(m.restoreAttempts, { vm });
      if (!succeeded) counter(m.restoreFailures, { vm });
    },
    backedUpUnprotected: (vm, job) => counter(m.backedUpUnprotected, { vm, backup_job: job }),
  };
}

// From workflow code: each call emits through the workflow's meter (nothing during a replay).
// The meter is reached at call time, so importing this file outside a workflow is harmless.

const inWorkflow = () => productMetrics(workflowMetricMeter);

/** See ProductMetrics.recordRunOutcome. Call once, where the run's outcome is settled. */
export const recordRunOutcome = (outcome: RunOutcome, job: string) => inWorkflow().recordRunOutcome(outcome, job);
/** See ProductMetrics.vmWriteThrough. */
export const vmWriteThrough = (vm: string, on: boolean) => inWorkflow().vmWriteThrough(vm, on);
/** See ProductMetrics.writeThroughEnded. */
export const writeThroughEnded = (vm: string, seconds: number) => inWorkflow().writeThroughEnded(vm, seconds);
/** See ProductMetrics.flushVerified. */
export const flushVerified = (vm: string, seconds: number) => inWorkflow().flushVerified(vm, seconds);
/** See ProductMetrics.restoreAttempt. */
export const restoreAttempt = (vm: string, succeeded: boolean) => inWorkflow().restoreAttempt(vm, succeeded);
/** See ProductMetrics.backedUpUnprotected. */
export const backedUpUnprotected = (vm: string, job: string) => inWorkflow().backedUpUnprotected(vm, job);
