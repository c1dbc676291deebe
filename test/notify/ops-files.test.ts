/**
 * The shipped Prometheus alert rules and Grafana dashboard (ops/): they parse, their PromQL is
 * valid (Prometheus's own grammar, lezer-promql), they alert on what the product promises, and every
 * metric they reference is one domain/metrics.ts defines (or Prometheus's own `up`).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { PRODUCT_METRICS, PRODUCT_METRIC_NAMES } from '../../domain/metrics';
import { repoRoot } from '../helpers/tools';
import type { parser as PromqlParser } from '@prometheus-io/lezer-promql' with { 'resolution-mode': 'import' };

const AlertRules = z
  .object({
    groups: z
      .array(
        z
          .object({
            name: z.string(),
            rules: z.array(
              z
                .object({
                  alert: z.string().regex(/^Fvpb[A-Za-z]+$/),
                  expr: z.string().min(1),
                  for: z
                    .string()
                    .regex(/^\d+[smhd]$/)
                    .optional(),
                  labels: z.object({ severity: z.enum(['warning', 'critical']) }),
                  annotations: z.object({ summary: z.string().min(1), description: z.string().min(1) }),
                })
                .strict(),
            ),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

const Dashboard = z.object({
  uid: z.string(),
  title: z.string(),
  schemaVersion: z.number(),
  templating: z.object({ list: z.array(z.object({ name: z.string(), type: z.string() })) }),
  panels: z
    .array(
      z.object({
        id: z.number(),
        title: z.string().min(1),
        type: z.enum(['stat', 'timeseries', 'table']),
        gridPos: z.object({ x: z.number(), y: z.number(), w: z.number(), h: z.number() }),
        targets: z.array(z.object({ refId: z.string(), expr: z.string().min(1) })).min(1),
      }),
    )
    .min(1),
});

/** Every series name a metric defines on the endpoint: a histogram's _bucket, _sum and _count. */
const DEFINED = new Set<string>(
  Object.values(PRODUCT_METRICS).flatMap((m) =>
    m.kind === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
  ),
);
/** Prometheus's own per-target metric, for the worker-down rules. */
const PROMETHEUS_OWN = new Set(['up']);

// The grammar ships as an ES module with ESM-only types: loaded with import() from this CommonJS test.
let promql: { parser: typeof PromqlParser };

/** The metric names a PromQL expression selects; fails on a syntax error. */
function metricsOf(expr: string, where: string): string[] {
  const tree = promql.parser.parse(expr);
  const names: string[] = [];
  tree.iterate({
    enter(node) {
      assert.ok(!node.type.isError, `${where}: PromQL syntax error at ${node.from} in ${expr}`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') {
        names.push(expr.slice(node.from, node.to));
      }
    },
  });
  return names;
}

/** Grafana's variables, as Grafana substitutes them before Prometheus sees the query. */
function interpolate(expr: string): string {
  return expr.replace(/\$__(range|rate_interval|interval)\b/g, '5m').replace(/\$\{?job\}?/g, 'fvp-protected-backup');
}

function assertKnown(names: string[], where: string) {
  for (const name of names) {
    assert.ok(
      DEFINED.has(name) || PROMETHEUS_OWN.has(name),
      `${where}: ${name} is not a metric domain/metrics.ts defines`,
    );
  }
}

describe('ops files', () => {
  before(async () => {
    promql = await import('@prometheus-io/lezer-promql');
  });

  test('the alert rules parse, are valid PromQL, and reference only defined metrics', () => {
    const rules = AlertRules.parse(parseYaml(readFileSync(join(repoRoot, 'ops', 'prometheus', 'alerts.yml'), 'utf8')));
    const all = rules.groups.flatMap((g) => g.rules);
    const byName = new Map(all.map((r) => [r.alert, r]));
    assert.equal(byName.size, all.length, 'alert names are unique');
    const used = new Set<string>();
    for (const rule of all) {
      const names = metricsOf(rule.expr, rule.alert);
      assert.ok(names.length > 0, `${rule.alert} selects a metric`);
      assertKnown(names, rule.alert);
      names.forEach((n) => used.add(n));
    }

    // What the product promises to alert on.
    const writeThrough = byName.get('FvpbVmInWriteThroughTooLong')!;
    assert.deepEqual(metricsOf(writeThrough.expr, 'write-through'), ['fvpb_vms_write_through']);
    assert.equal(writeThrough.for, '1h');
    const restore = byName.get('FvpbRestoreFailing')!;
    assert.deepEqual([...new Set(metricsOf(restore.expr, 'restore'))].sort(), [
      'fvpb_restore_attempts_total',
      'fvpb_restore_failures_total',
    ]);
    assert.equal(restore.for, '15m');
    const unprotected = byName.get('FvpbBackedUpUnprotected')!;
    assert.deepEqual([...new Set(metricsOf(unprotected.expr, 'unprotected'))], ['fvpb_backed_up_unprotected_total']);
    assert.equal(unprotected.for, undefined, 'any event alerts at once');
    for (const name of ['FvpbWorkerDown', 'FvpbWorkerAbsent']) {
      assert.deepEqual(metricsOf(byName.get(name)!.expr, name), ['up']);
      assert.match(byName.get(name)!.expr, /job="fvp-protected-backup"/);
    }
    // Annotations name the VM for the per-VM alerts.
    for (const name of ['FvpbVmInWriteThroughTooLong', 'FvpbRestoreFailing', 'FvpbBackedUpUnprotected']) {
      assert.match(byName.get(name)!.annotations.summary, /\{\{ \$labels\.vm \}\}/);
    }
  });

  test('the dashboard parses, its queries are valid PromQL, and it shows every product metric and nothing undefined', () => {
    const dashboard = Dashboard.parse(
      JSON.parse(readFileSync(join(repoRoot, 'ops', 'grafana', 'fvpb-dashboard.json'), 'utf8')),
    );
    assert.deepEqual(
      dashboard.templating.list.map((v) => [v.name, v.type]),
      [
        ['datasource', 'datasource'],
        ['job', 'custom'],
      ],
    );
    assert.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length, 'panel ids are unique');
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        const names = metricsOf(interpolate(target.expr), `${panel.title} ${target.refId}`);
        assert.ok(names.length > 0);
        assertKnown(names, `${panel.title} ${target.refId}`);
        names.forEach((n) => used.add(n.replace(/_(bucket|sum|count)$/, '')));
      }
    }
    for (const name of PRODUCT_METRIC_NAMES) assert.ok(used.has(name), `the dashboard shows ${name}`);
  });
});
