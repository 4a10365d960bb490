/**
 * Warehouse sink throughput next to a plain COPY of the same rows, in the same run, against the
 * configured warehouse (the local stack by default). Not part of the tests.
 *
 *   node bench/warehouseSink.bench.ts [rows=200000]
 *
 * - plain COPY: the rows, formatted the way the sink formats them, COPYed in 1 MiB chunks into a
 *   table with the same columns (bronze's lineage, _key and _timestamp included), in one statement:
 *   the floor the sink builds on; once more into a table with bronze's primary key, to show what
 *   the index alone costs.
 * - sink append (bronze) and sink upsert (silver): rows fed through `add()` the way the runner
 *   does (three partitions, at most 30,000 records in flight), timed until every ack is released,
 *   i.e. until everything is committed together with its offsets.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { tablePlanOf } from '../connectors/postgres/warehouse/avroToPg.ts';
import { parseWarehouseSinkConfig, type WarehouseSinkOptions } from '../connectors/postgres/warehouse/config.ts';
import { copyValue, isoOfMillis } from '../connectors/postgres/warehouse/copyValue.ts';
import { createWarehouseSinkConnector } from '../connectors/postgres/warehouse/sink.ts';
import { OFFSETS_SCHEMA, OFFSETS_TABLE } from '../connectors/postgres/warehouse/storedOffsets.ts';
import { loadConfig, pgConnection } from '../src/config/config.ts';
import { loadSchema, loadType } from '../src/domain/schemas.ts';
import type { Order } from '../src/domain/types.generated.ts';
import type { Output } from '../src/topology/types.ts';

const N = Number(process.argv[2] ?? 200_000);
const PARTITIONS = 3;
const MAX_IN_FLIGHT = 30_000;
const T0 = Date.UTC(2026, 0, 1);

const cfg = loadConfig();
const connection = pgConnection(cfg, cfg.warehouseDatabase);
const schema = `bench_${Date.now().toString(36)}_${randomBytes(2).toString('hex')}`;
const client = new pg.Client(connection);
await client.connect();

const rows: Order[] = Array.from(
  { length: N },
  (_, i) =>
    ({
      order_id: i + 1,
      customer_id: 1 + (i % 5000),
      status: ['pending', 'paid', 'shipped'][i % 3],
      total_amount: `${(i % 100_000) / 100}`.includes('.') ? ((i % 100_000) / 100).toFixed(2) : `${i % 1000}.00`,
      currency: 'EUR',
      ordered_at: T0 + i * 1000,
      updated_at: T0 + i * 1000,
      op: 'c',
      extracted_at: T0 + i * 1000 + 5,
    }) as Order,
);

/** The lineage columns bronze has, which the sink fills: the peers write the same values. */
const LINEAGE = '_topic text, _partition integer, _offset bigint, _key text, _timestamp timestamptz';

function rate(n: number, seconds: number): string {
  return `${Math.round(n / seconds).toLocaleString('en-US')} rows/s`;
}

/** COPY of all rows in one statement into `table` (created with the sink's column types). */
async function plainCopy(table: string, constraint: string): Promise<number> {
  const plan = tablePlanOf(
    parseWarehouseSinkConfig({ avroSchema: 'silver.orders', schema, table }),
    loadSchema('silver.orders') as never,
  );
  const cols = plan.columns;
  await client.query(`create schema if not exists "${schema}"`);
  await client.query(
    `create table "${schema}"."${table}" (${cols.map((c) => `"${c.name}" ${c.pgType}`).join(', ')}, ${LINEAGE}${constraint})`,
  );
  const started = process.hrtime.bigint();
  function* chunks(): Generator<string> {
    let buf = '';
    for (let i = 0; i < rows.length; i++) {
      const v = rows[i] as unknown as Record<string, unknown>;
      let line = '';
      for (const c of cols) line += copyValue(v[c.name], c.kind) + '\t';
      line += `bench.orders\t${i % PARTITIONS}\t${Math.floor(i / PARTITIONS)}\t`;
      buf += `${line}${rows[i].order_id}\t${isoOfMillis(rows[i].updated_at)}\n`;
      if (buf.length >= 1024 * 1024) {
        yield buf;
        buf = '';
      }
    }
    if (buf) yield buf;
  }
  await pipeline(Readable.from(chunks()), client.query(copyFrom(`copy "${schema}"."${table}" from stdin`)));
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Multi-row INSERTs of all rows (500 per statement, bound parameters) into `table`: the usual hand-written loader. */
async function plainInsert(table: string): Promise<number> {
  const plan = tablePlanOf(
    parseWarehouseSinkConfig({ avroSchema: 'silver.orders', schema, table }),
    loadSchema('silver.orders') as never,
  );
  const cols = plan.columns;
  await client.query(
    `create table "${schema}"."${table}" (${cols.map((c) => `"${c.name}" ${c.pgType}`).join(', ')}, ${LINEAGE})`,
  );
  const width = cols.length + 5;
  const started = process.hrtime.bigint();
  for (let from = 0; from < rows.length; from += 500) {
    const params: unknown[] = [];
    const tuples: string[] = [];
    for (let i = from; i < Math.min(rows.length, from + 500); i++) {
      const v = rows[i] as unknown as Record<string, unknown>;
      const base = params.length;
      for (const c of cols) {
        const text = copyValue(v[c.name], c.kind);
        params.push(text === '\\N' ? null : text);
      }
      params.push(
        'bench.orders',
        i % PARTITIONS,
        Math.floor(i / PARTITIONS),
        rows[i].order_id,
        isoOfMillis(rows[i].updated_at),
      );
      tuples.push(`(${Array.from({ length: width }, (_, k) => `$${base + k + 1}`).join(', ')})`);
    }
    await client.query(`insert into "${schema}"."${table}" values ${tuples.join(', ')}`, params);
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function throughSink(
  options: Partial<WarehouseSinkOptions>,
): Promise<{ seconds: number; batches: number; mb: number }> {
  const sink = createWarehouseSinkConnector(
    parseWarehouseSinkConfig({ avroSchema: 'silver.orders', schema, connection, ...options }),
    {
      topology: 'bench',
      schemaIds: new Map(),
      schemaFor: (name) => loadType(name),
    },
  );
  await sink.connect();
  let inFlight = 0;
  let failed: unknown;
  let wake: () => void = () => {};
  const started = process.hrtime.bigint();
  for (let i = 0; i < rows.length; i++) {
    while (inFlight >= MAX_IN_FLIGHT)
      await new Promise<void>((r) => {
        wake = r;
      });
    if (failed) throw failed;
    inFlight++;
    const partition = i % PARTITIONS;
    const output: Output = {
      topic: 'bench',
      key: String(rows[i].order_id),
      value: rows[i],
      timestamp: rows[i].updated_at,
      acks: [
        {
          retain() {},
          release() {
            inFlight--;
            wake();
          },
          fail(err) {
            failed = err;
            inFlight--;
            wake();
          },
        },
      ],
      source: {
        topic: 'bench.orders',
        partition,
        offset: String(Math.floor(i / PARTITIONS)),
        key: null,
        value: null,
        headers: {},
        timestamp: rows[i].updated_at,
      },
    };
    sink.add(output);
    // The runner hands records over batch by batch; let the event loop breathe between them.
    if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
  }
  while (inFlight > 0)
    await new Promise<void>((r) => {
      wake = r;
    });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (failed) throw failed;
  const { batches, bytes } = sink.stats;
  await sink.close(10_000);
  return { seconds, batches, mb: bytes / 1024 / 1024 };
}

try {
  console.log(
    `warehouse sink benchmark: ${N.toLocaleString('en-US')} silver.orders rows, Postgres ${(await client.query('show server_version')).rows[0].server_version}`,
  );
  // Warm-up (JIT, Postgres caches, the WAL): the first COPY of a run is slower whatever it is.
  await plainCopy('warmup_orders', '');
  const copy = await plainCopy('plain_orders', '');
  console.log(`plain COPY, no index (baseline)   ${rate(N, copy).padStart(16)}  ${copy.toFixed(2)} s`);
  const copyPk = await plainCopy('plain_orders_pk', ', primary key (_topic, _partition, _offset)');
  console.log(
    `plain COPY, with bronze's key     ${rate(N, copyPk).padStart(16)}  ${copyPk.toFixed(2)} s  ratio to baseline ${(copy / copyPk).toFixed(2)}`,
  );
  const insert = await plainInsert('insert_orders');
  console.log(
    `multi-row INSERT, no index       ${rate(N, insert).padStart(16)}  ${insert.toFixed(2)} s  ratio to baseline ${(copy / insert).toFixed(2)}`,
  );
  const summary: Record<string, number> = {
    plainCopyRowsPerSecond: Math.round(N / copy),
    plainCopyWithKeyRowsPerSecond: Math.round(N / copyPk),
    multiRowInsertRowsPerSecond: Math.round(N / insert),
  };
  for (const [label, options] of [
    ['sink append (bronze)', { table: 'bronze_orders', mode: 'append' }],
    [
      'sink upsert (silver)',
      { table: 'silver_orders', mode: 'upsert', keyColumns: ['order_id'], orderingColumn: 'updated_at' },
    ],
  ] as [string, Partial<WarehouseSinkOptions>][]) {
    const r = await throughSink(options);
    console.log(
      `${label.padEnd(33)} ${rate(N, r.seconds).padStart(16)}  ${r.seconds.toFixed(2)} s  ${r.batches} transactions, ${r.mb.toFixed(1)} MiB copied  ratio to baseline ${(copy / r.seconds).toFixed(2)}`,
    );
    const mode = options.mode as string;
    summary[`${mode}RowsPerSecond`] = Math.round(N / r.seconds);
    summary[`${mode}VsPlainCopy`] = Number((copy / r.seconds).toFixed(2));
    // Bronze has a primary key on its coordinates: the COPY into a table with that key is its like.
    if (mode === 'append') summary.appendVsPlainCopyWithKey = Number((copyPk / r.seconds).toFixed(2));
    summary[`${mode}VsMultiRowInsert`] = Number((insert / r.seconds).toFixed(2));
  }
  console.log(JSON.stringify({ bench: 'warehouse sink', rows: N, ...summary }));
} finally {
  await client.query(`drop schema if exists "${schema}" cascade`);
  await client.query(`delete from "${OFFSETS_SCHEMA}"."${OFFSETS_TABLE}" where sink like $1`, [`${schema}.%`]);
  await client.end();
}
