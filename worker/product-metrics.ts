/**
 * The product's metrics (domain/metrics.ts) on the Temporal runtime's meter, so they are served by
 * the same Prometheus endpoint as the runtime's own (FVPB_METRICS_ADDRESS), with buckets in seconds
 * for the product's histograms. Workflows emit through the workflow meter (domain/metrics.ts);
 * worker-side code uses `runtimeProductMetrics()`, activities `productMetrics(metricMeter)` from
 * `@temporalio/activity` (which adds the activity's tags).
 */
import type { TelemetryOptions } from '@temporalio/worker';
import { Runtime } from '@temporalio/worker';
import { productHistogramBuckets, productMetrics, type ProductMetrics } from '../domain/metrics';

export { PRODUCT_METRICS, PRODUCT_METRIC_NAMES, productMetrics, type ProductMetrics } from '../domain/metrics';

/**
 * The runtime's metrics options for a Prometheus endpoint at `bindAddress`, or none. Names stay as
 * defined (no `_total` or unit suffix added), which the alert rules and dashboard in ops/ rely on.
 */
export function metricsTelemetry(bindAddress: string | undefined): TelemetryOptions['metrics'] {
  if (!bindAddress) return undefined;
  return {
    prometheus: {
      bindAddress,
      countersTotalSuffix: false,
      unitSuffix: false,
      histogramBucketOverrides: productHistogramBuckets(),
    },
  };
}

/** The product's metrics on the installed runtime's meter (Runtime.install first, or the default runtime is used). */
export function runtimeProductMetrics(runtime: Runtime = Runtime.instance()): ProductMetrics {
  return productMetrics(runtime.metricMeter);
}
