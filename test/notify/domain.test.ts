/**
 * The pure parts workflows import: the notification events and keys (domain/notification.ts) and
 * the metrics API over a meter (domain/metrics.ts), checked against a recording meter.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MetricMeter, MetricTags } from '@temporalio/common';
import { PRODUCT_METRICS, PRODUCT_METRIC_NAMES, productHistogramBuckets, productMetrics } from '../../domain/metrics';
import { NOTIFICATION_KINDS, NotificationEvent, notificationKey } from '../../domain/notification';

describe('notification events', () => {
  const origin = { key: 'k', at: '2026-12-01T02:00:00Z', workflowId: 'wf' };

  test('six kinds; each validated strictly, with no room for anything but what happened', () => {
    assert.deepEqual(NOTIFICATION_KINDS, [
      'run-failed',
      'run-warning',
      'run-cancelled',
      'restore-failing',
      'backed-up-unprotected',
      'reconciler-fixed',
    ]);
    assert.ok(NotificationEvent.safeParse({ kind: 'run-cancelled', ...origin, job: 'J' }).success);
    assert.deepEqual(
      NotificationEvent.parse({ kind: 'run-cancelled', ...origin, job: 'J' }),
      { kind: 'run-cancelled', ...origin, job: 'J', vms: [] },
      'a run event without VMs lists none',
    );
    const refused = [
      { kind: 'run-exploded', ...origin, job: 'J' },
      { kind: 'run-cancelled', ...origin, job: 'J', password: 'x' },
      { kind: 'run-cancelled', ...origin, job: 'J', webhookUrl: 'https://x' },
      { kind: 'restore-failing', ...origin, vm: 'v', attempts: 0, since: origin.at, lastError: 'e' },
      { kind: 'restore-failing', ...origin, vm: 'v', attempts: 1, since: 'yesterday', lastError: 'e' },
      { kind: 'reconciler-fixed', ...origin, vms: [] },
      { kind: 'backed-up-unprotected', ...origin, vm: 'v', job: 'J' },
      { kind: 'run-cancelled', ...origin, key: '', job: 'J' },
    ];
    for (const event of refused) assert.equal(NotificationEvent.safeParse(event).success, false, JSON.stringify(event));
  });

  test('keys are stable for the same parts and distinct for different ones, whatever the names contain', () => {
    const parts = { workflowId: 'protected-backup/J', runId: 'r1', kind: 'restore-failing' as const, vm: 'sql-01' };
    assert.equal(notificationKey(parts), notificationKey({ ...parts }));
    const keys = [
      notificationKey(parts),
      notificationKey({ ...parts, vm: 'sql-02' }),
      notificationKey({ ...parts, runId: 'r2' }),
      notificationKey({ ...parts, episode: '2026-12-01T02:00:00Z' }),
      notificationKey({ ...parts, kind: 'backed-up-unprotected' }),
      // Separators inside names cannot make two different events collide.
      notificationKey({ ...parts, workflowId: 'a/b', runId: 'c' }),
      notificationKey({ ...parts, workflowId: 'a', runId: 'b/c' }),
    ];
    assert.equal(new Set(keys).size, keys.length);
  });
});

describe('product metrics API', () => {
  interface Recorded {
    kind: string;
    name: string;
    value: number;
    tags: MetricTags;
    valueType?: string;
    description?: string;
  }

  function recordingMeter(recorded: Recorded[]): MetricMeter {
    const meter: MetricMeter = {
      createCounter: (name, unit, description) => ({
        name,
        unit,
        description,
        kind: 'counter',
        valueType: 'int',
        add: (value, tags = {}) => void recorded.push({ kind: 'counter', name, value, tags, description }),
        withTags: () => assert.fail('not used'),
      }),
      createHistogram: (name, valueType = 'int', unit, description) => ({
        name,
        unit,
        description,
        kind: 'histogram',
        valueType,
        record: (value, tags = {}) => void recorded.push({ kind: 'histogram', name, value, tags, valueType }),
        withTags: () => assert.fail('not used'),
      }),
      createGauge: (name, valueType = 'int', unit, description) => ({
        name,
        unit,
        description,
        kind: 'gauge',
        valueType,
        set: (value, tags = {}) => void recorded.push({ kind: 'gauge', name, value, tags }),
        withTags: () => assert.fail('not used'),
      }),
      withTags: () => meter,
    };
    return meter;
  }

  test('each call emits the metric it names, with its labels', () => {
    const recorded: Recorded[] = [];
    const m = productMetrics(recordingMeter(recorded));
    m.recordRunOutcome('warning', 'Nightly-SQL');
    m.vmWriteThrough('sql-01', true);
    m.vmWriteThrough('sql-01', false);
    m.flushVerified('sql-01', 12.5);
    m.writeThroughEnded('sql-01', 300);
    m.writeThroughEnded('sql-01', -1); // a clock step backwards is recorded as 0, never refused
    m.restoreAttempt('sql-01', true);
    m.restoreAttempt('sql-01', false);
    m.backedUpUnprotected('web-01', 'Nightly-SQL');
    assert.deepEqual(
      recorded.map((r) => [r.kind, r.name, r.value, r.tags]),
      [
        ['counter', 'fvpb_runs_total', 1, { outcome: 'warning', backup_job: 'Nightly-SQL' }],
        ['gauge', 'fvpb_vms_write_through', 1, { vm: 'sql-01' }],
        ['gauge', 'fvpb_vms_write_through', 0, { vm: 'sql-01' }],
        ['histogram', 'fvpb_flush_seconds', 12.5, { vm: 'sql-01' }],
        ['histogram', 'fvpb_write_through_seconds', 300, { vm: 'sql-01' }],
        ['histogram', 'fvpb_write_through_seconds', 0, { vm: 'sql-01' }],
        ['counter', 'fvpb_restore_attempts_total', 1, { vm: 'sql-01' }],
        ['counter', 'fvpb_restore_attempts_total', 1, { vm: 'sql-01' }],
        ['counter', 'fvpb_restore_failures_total', 1, { vm: 'sql-01' }],
        ['counter', 'fvpb_backed_up_unprotected_total', 1, { vm: 'web-01', backup_job: 'Nightly-SQL' }],
      ],
    );
    assert.ok(recorded.filter((r) => r.kind === 'histogram').every((r) => r.valueType === 'float'));
    assert.deepEqual(new Set(recorded.map((r) => r.name)), new Set(PRODUCT_METRIC_NAMES));
  });

  test('no metric has a label Prometheus sets on every series (it would be renamed exported_job)', () => {
    for (const m of Object.values(PRODUCT_METRICS)) {
      assert.ok(!m.labels.some((l: string) => l === 'job' || l === 'instance'), m.name);
    }
  });

  test('histograms have increasing buckets in seconds, up to a day', () => {
    const buckets = productHistogramBuckets();
    assert.deepEqual(Object.keys(buckets).sort(), ['fvpb_flush_seconds', 'fvpb_write_through_seconds']);
    for (const bounds of Object.values(buckets)) {
      assert.ok(bounds.every((b, i) => i === 0 || b > bounds[i - 1]!));
      assert.equal(bounds.at(-1), 86_400);
    }
  });
});
