import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import client from 'prom-client';
import { PROJECT_ROOT } from '../../../src/config/config.ts';
import { createEngineMetrics } from '../../../src/engine/engineMetrics.ts';
import { createFeedMetrics } from '../../../src/feed/feedMetrics.ts';
import { createFreshnessMetrics } from '../../../src/quality/freshnessMetrics.ts';
import { createWarehouseTestMetrics } from '../../../src/quality/warehouseTestMetrics.ts';

/**
 * Prometheus naming (https://prometheus.io/docs/practices/naming/): one application prefix,
 * counters end in `_total`, nothing else does, and a quantity with a unit names it in its base
 * unit (seconds, bytes) — timestamps as `_timestamp_seconds`.
 */
test('every metric Sluice exports has one prefix, counters end in _total, and units are in the names', async () => {
  const registry = new client.Registry();
  createEngineMetrics(registry);
  createFeedMetrics(registry);
  createFreshnessMetrics(registry);
  createWarehouseTestMetrics(registry);
  const metrics = await registry.getMetricsAsJSON();
  assert.ok(metrics.length > 30, `${metrics.length} metrics`);
  const problems: string[] = [];
  for (const m of metrics) {
    const { name, type } = m as unknown as { name: string; type: string };
    if (!/^sluice_[a-z][a-z0-9_]*$/.test(name)) problems.push(`${name}: not sluice_<snake_case>`);
    if (/^sluice_(sluice|process_process|nodejs_nodejs)_/.test(name)) problems.push(`${name}: prefix twice`);
    if (type === 'counter' && !name.endsWith('_total')) problems.push(`${name}: a counter must end in _total`);
    // prom-client's default Node.js metrics name a few gauges *_total: theirs, left as they are.
    if (type !== 'counter' && name.endsWith('_total') && !/^sluice_(process|nodejs)_/.test(name))
      problems.push(`${name}: only counters end in _total`);
    if (/_(ms|milliseconds|millis|kb|mb|mib)(_|$)/.test(name))
      problems.push(`${name}: use base units (seconds, bytes)`);
    if (type === 'histogram' && !/_(seconds|bytes|records|rows)$/.test(name)) problems.push(`${name}: histogram unit`);
    if (/(latency|delay|duration|age)$/.test(name)) problems.push(`${name}: a time needs _seconds`);
    if (/lag$/.test(name)) problems.push(`${name}: lag in what? (_records, _seconds)`);
  }
  assert.deepEqual(problems, []);
});

test('every metric the Grafana dashboard queries is one Sluice exports', async () => {
  const registry = new client.Registry();
  createEngineMetrics(registry);
  createFeedMetrics(registry);
  const metrics = await registry.getMetricsAsJSON();
  const exported = new Set<string>();
  for (const m of metrics as unknown as { name: string; type: string }[]) {
    exported.add(m.name);
    if (m.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(m.name + s);
  }
  const dashboard = readFileSync(path.join(PROJECT_ROOT, 'stack/grafana/dashboards/sluice.json'), 'utf8');
  const exprs = [...dashboard.matchAll(/"expr":\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
  assert.ok(exprs.length > 10, `${exprs.length} queries`);
  const queried = new Set(exprs.flatMap((e) => e.match(/\bsluice_[a-z0-9_]+/g) ?? []));
  assert.deepEqual(
    [...queried].filter((n) => !exported.has(n)),
    [],
    'queried but not exported',
  );
});
