import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tablePlanOf } from '../../../connectors/postgres/warehouse/avroToPg.ts';
import { parseWarehouseSinkConfig } from '../../../connectors/postgres/warehouse/config.ts';
import { createTableSql } from '../../../connectors/postgres/warehouse/ddl.ts';
import { loadConfig } from '../../../src/config/config.ts';
import { isSluiceError } from '../../../src/core/errors.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import {
  DEFAULT_FRESHNESS_SLAS,
  type FreshnessSla,
  formatFreshnessSla,
  freshnessState,
  parseFreshnessSlas,
} from '../../../src/quality/freshnessSlas.ts';
import { medallionTables } from '../../../src/shop/warehouseModel.ts';
import { TOPOLOGIES } from '../../../topologies/index.ts';

const MIN = 60_000;
const stackDir = mkdtempSync(path.join(tmpdir(), 'sluice-fresh-'));

test('the state is fresh up to the warn age, warn up to the breach age, breach beyond it and when unknown', () => {
  const sla = { warnAfterMs: 15 * MIN, breachAfterMs: 30 * MIN };
  assert.equal(freshnessState(0, sla), 'fresh');
  assert.equal(freshnessState(15 * MIN, sla), 'fresh');
  assert.equal(freshnessState(15 * MIN + 1, sla), 'warn');
  assert.equal(freshnessState(30 * MIN, sla), 'warn');
  assert.equal(freshnessState(30 * MIN + 1, sla), 'breach');
  assert.equal(freshnessState(null, sla), 'breach', 'empty, missing or not measured');
});

test('the defaults: orders warn after 15 min and breach after 30, clickstream after 5 and 10', () => {
  const bySubject = new Map(DEFAULT_FRESHNESS_SLAS.map((s) => [s.subject, s]));
  const limits = (subject: string) => {
    const s = bySubject.get(subject);
    return s && [s.warnAfterMs / MIN, s.breachAfterMs / MIN];
  };
  assert.deepEqual(limits('oltp.orders'), [15, 30]);
  assert.deepEqual(limits('silver.orders'), [15, 30]);
  assert.deepEqual(limits('warehouse:gold.fact_orders'), [15, 30]);
  assert.deepEqual(limits('web.clickstream'), [5, 10]);
  assert.deepEqual(limits('silver.clickstream'), [5, 10]);
  assert.equal(new Set(bySubject.keys()).size, DEFAULT_FRESHNESS_SLAS.length, 'subjects are unique');
  for (const s of DEFAULT_FRESHNESS_SLAS) assert.ok(s.warnAfterMs <= s.breachAfterMs, s.subject);
});

test('every default topic is one a topology reads or writes', () => {
  const topics = new Set(
    Object.values(TOPOLOGIES).flatMap((t) => [...t.sources.map((s) => s.topic), ...t.outputs.map((o) => o.topic)]),
  );
  const missing = DEFAULT_FRESHNESS_SLAS.filter((s) => s.kind === 'topic' && !topics.has(s.topic));
  assert.deepEqual(
    missing.map((s) => s.subject),
    [],
  );
});

test('every default table column is a timestamptz column of the table the warehouse sink creates', () => {
  for (const sla of DEFAULT_FRESHNESS_SLAS) {
    if (sla.kind !== 'table') continue;
    const t = medallionTables().find((m) => m.sink.schema === sla.schema && m.sink.table === sla.table);
    assert.ok(t, `${sla.subject} is a medallion table`);
    const cfg = parseWarehouseSinkConfig(t.sink);
    const schema = typeof cfg.avroSchema === 'string' ? loadSchema(cfg.avroSchema) : cfg.avroSchema;
    const ddl = createTableSql(tablePlanOf(cfg, schema as unknown as { [k: string]: unknown })).join('\n');
    assert.match(ddl, new RegExp(`"?${sla.column}"? timestamptz`), `${sla.subject}.${sla.column}`);
  }
});

test('SLUICE_FRESHNESS_SLAS: topics and warehouse columns with their ages; empty means the defaults', () => {
  assert.deepEqual(parseFreshnessSlas(''), DEFAULT_FRESHNESS_SLAS);
  assert.deepEqual(parseFreshnessSlas(' , '), DEFAULT_FRESHNESS_SLAS);
  assert.deepEqual(parseFreshnessSlas('oltp.orders=15m/30m, warehouse:it_x_gold.fact_orders._loaded_at = 90s / 2h,'), [
    { kind: 'topic', subject: 'oltp.orders', topic: 'oltp.orders', warnAfterMs: 15 * MIN, breachAfterMs: 30 * MIN },
    {
      kind: 'table',
      subject: 'warehouse:it_x_gold.fact_orders',
      schema: 'it_x_gold',
      table: 'fact_orders',
      column: '_loaded_at',
      warnAfterMs: 90_000,
      breachAfterMs: 2 * 60 * MIN,
    },
  ] satisfies FreshnessSla[]);
  // Warn and breach may be equal: no warn state, only fresh or breach.
  assert.equal(parseFreshnessSlas('t=1m/1m')[0].breachAfterMs, MIN);
  for (const s of DEFAULT_FRESHNESS_SLAS) assert.deepEqual(parseFreshnessSlas(formatFreshnessSla(s)), [s]);
});

test('a bad SLA list names every bad entry', () => {
  assert.throws(
    () =>
      parseFreshnessSlas(
        'oltp.orders=15m,bad topic!=1m/2m,x=soon/2m,y=10m/5m,z=0s/1m,warehouse:gold.fact_orders=1m/2m,a=1m/2m,a=3m/4m',
      ),
    (err: Error) => {
      assert.ok(err instanceof RangeError);
      for (const part of [
        /"oltp\.orders=15m" is not SUBJECT=WARN\/BREACH/,
        /"bad topic!=1m\/2m" is not SUBJECT=WARN\/BREACH/,
        /"soon" is not a duration/,
        /"y=10m\/5m": the breach age is below the warn age/,
        /"z=0s\/1m": the warn age must be above 0/,
        /"warehouse:gold\.fact_orders" is not warehouse:SCHEMA\.TABLE\.COLUMN/,
        /a is listed twice/,
      ])
        assert.match(err.message, part);
      return true;
    },
  );
  assert.throws(() => parseFreshnessSlas('bad$topic=1m/2m'), /"bad\$topic" is not a Kafka topic name/);
  assert.throws(() => parseFreshnessSlas('warehouse:g.t.c;drop=1m/2m'), /is not warehouse:SCHEMA\.TABLE\.COLUMN/);
});

test('the freshness settings are validated at start-up, from the environment or a config file list', () => {
  const cfg = loadConfig({ SLUICE_STACK_DIR: stackDir });
  assert.deepEqual(cfg.freshnessSlas, DEFAULT_FRESHNESS_SLAS);
  assert.equal(cfg.freshnessIntervalMs, 30_000);

  const env = loadConfig({
    SLUICE_STACK_DIR: stackDir,
    SLUICE_FRESHNESS_SLAS: 'web.clickstream=1m/2m',
    SLUICE_FRESHNESS_INTERVAL_MS: '0',
  });
  assert.deepEqual(
    env.freshnessSlas.map((s) => [s.subject, s.warnAfterMs, s.breachAfterMs]),
    [['web.clickstream', MIN, 2 * MIN]],
  );
  assert.equal(env.freshnessIntervalMs, 0);

  const file = path.join(stackDir, 'sluice.yaml');
  writeFileSync(
    file,
    'SLUICE_FRESHNESS_SLAS:\n  - oltp.orders=5m/10m\n  - warehouse:gold.fact_orders._loaded_at=1h/2h\n',
  );
  const fromFile = loadConfig({ SLUICE_STACK_DIR: stackDir, SLUICE_CONFIG_FILE: file });
  assert.deepEqual(
    fromFile.freshnessSlas.map((s) => s.subject),
    ['oltp.orders', 'warehouse:gold.fact_orders'],
  );

  assert.throws(
    () =>
      loadConfig({
        SLUICE_STACK_DIR: stackDir,
        SLUICE_FRESHNESS_SLAS: 'oltp.orders=30m/15m',
        SLUICE_FRESHNESS_INTERVAL_MS: '-1',
      }),
    (err: unknown) => {
      assert.ok(isSluiceError(err, 'CONFIG_INVALID'));
      assert.match(err.message, /SLUICE_FRESHNESS_SLAS: "oltp\.orders=30m\/15m": the breach age is below the warn age/);
      assert.match(err.message, /SLUICE_FRESHNESS_INTERVAL_MS/);
      return true;
    },
  );
});
