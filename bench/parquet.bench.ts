/**
 * Parquet writers compared on the lake's own rows: write time, peak memory, output size, and
 * whether DuckDB reads the output back with the right types and values.
 *
 *   npx node bench/parquet.bench.ts [--clicks 200000] [--orders 100000] [--row-group 50000]
 *
 * Each (writer, data set) runs in a child process of its own, so its peak RSS is its own; the
 * "MiB" column is that peak minus the peak of a child that only builds the same rows.
 * `@dsnp/parquetjs` is loaded from PARQUETJS_DIR when set (the published 1.9.3 tarball ships no
 * code, so the comparison uses 1.8.9 unpacked elsewhere); without it that row says why it is missing.
 * Prints a table and writes bench/results/parquet.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import type { ColumnSource, ParquetWriter } from 'hyparquet-writer';
import { ParquetBody, parquetLayoutOf } from '../connectors/s3/parquetBody.ts';
import { unscaledDecimal } from '../connectors/s3/parquetSchema.ts';
import { loadSchema, loadType } from '../src/domain/schemas.ts';

const { values: args } = parseArgs({
  options: {
    clicks: { type: 'string', default: '200000' },
    orders: { type: 'string', default: '100000' },
    'row-group': { type: 'string', default: '50000' },
    child: { type: 'string' },
  },
});
const ROW_GROUP = Number(args['row-group']);
const DATASETS = {
  clicks: { topic: 'web.clickstream', rows: Number(args.clicks) },
  orders: { topic: 'silver.orders', rows: Number(args.orders) },
};
type Dataset = keyof typeof DATASETS;
const WRITERS = ['baseline', 'hyparquet-snappy', 'hyparquet-zstd', 'sink-zstd', 'parquetjs-snappy'] as const;
type WriterName = (typeof WRITERS)[number];

/** Deterministic pseudo-random numbers, so every child builds the same rows. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const T0 = Date.UTC(2026, 0, 5, 9);
const TYPES = ['page_view', 'product_view', 'add_to_cart', 'remove_from_cart', 'checkout_started', 'purchase'];
const money = (r: () => number) => `${Math.floor(r() * 50_000)}.${String(Math.floor(r() * 100)).padStart(2, '0')}`;

function rowsOf(ds: Dataset): Record<string, unknown>[] {
  const r = rng(42);
  const n = DATASETS[ds].rows;
  if (ds === 'orders') {
    return Array.from({ length: n }, (_, i) => ({
      order_id: i + 1,
      customer_id: Math.floor(r() * 20_000),
      status: ['pending', 'paid', 'shipped', 'delivered', 'cancelled'][Math.floor(r() * 5)],
      total_amount: r() < 0.01 ? `-${money(r)}` : money(r),
      currency: r() < 0.8 ? 'EUR' : 'USD',
      ordered_at: T0 + i * 250,
      updated_at: T0 + i * 250 + Math.floor(r() * 60_000),
      op: 'c',
      extracted_at: T0 + i * 250 + 120_000,
    }));
  }
  return Array.from({ length: n }, (_, i) => {
    const type = TYPES[Math.floor(r() * TYPES.length)];
    const cart = type === 'add_to_cart' || type === 'remove_from_cart';
    const product = type !== 'page_view' && type !== 'checkout_started';
    return {
      event_id: `${(i * 2654435761).toString(16).padStart(8, '0')}-4a1b-8c2d-${String(i).padStart(12, '0')}`,
      event_type: type,
      session_id: r() < 0.001 ? null : `s${Math.floor(i / 20)}`,
      customer_id: r() < 0.4 ? null : Math.floor(r() * 20_000),
      event_time: T0 + i * 50,
      page_url: type === 'page_view' ? `https://shop.test/c/${Math.floor(r() * 300)}?ref=home` : null,
      product_id: product ? Math.floor(r() * 5000) : null,
      quantity: cart ? 1 + Math.floor(r() * 3) : null,
      price: cart ? money(r) : null,
      order_id: type === 'purchase' ? i : null,
      user_agent: r() < 0.9 ? `Mozilla/5.0 (X11; Linux x86_64) Chrome/${120 + Math.floor(r() * 10)}.0` : null,
    };
  });
}

function writerSchema(ds: Dataset) {
  const topic = DATASETS[ds].topic;
  return { json: JSON.stringify(loadSchema(topic)), type: loadType(topic) };
}

/** hyparquet-writer given columns directly (the library alone, no Avro on the way). */
function writeHyparquet(ds: Dataset, rows: Record<string, unknown>[], codec: 'snappy' | 'zstd'): Buffer {
  const layout = parquetLayoutOf(writerSchema(ds));
  const chunks: Buffer[] = [];
  const body = new ParquetBody(layout, {
    parquetCodec: codec,
    parquetRowGroupRows: ROW_GROUP,
    parquetRowGroupBytes: 1 << 30,
  });
  // Bypass the Avro round trip: drive the same ParquetWriter with columns built from the rows.
  const writer = (body as unknown as { writer: ParquetWriter }).writer;
  for (let start = 0; start < rows.length; start += ROW_GROUP) {
    const group = rows.slice(start, start + ROW_GROUP);
    const columnData = layout.columns.map(
      (c) =>
        ({
          name: c.name,
          data: group.map((row) => (row[c.name] == null ? null : c.convert(row[c.name]))),
        }) as ColumnSource,
    );
    void writer.write({ columnData, rowGroupSize: group.length });
  }
  body.close({});
  chunks.push(...body.blocks);
  return Buffer.concat(chunks);
}

/** The sink's own path: Avro-encode each record into the open row group, columns at each flush. */
function writeSink(ds: Dataset, rows: Record<string, unknown>[]): Buffer {
  const w = writerSchema(ds);
  const body = new ParquetBody(parquetLayoutOf(w), {
    parquetCodec: 'zstd',
    parquetRowGroupRows: ROW_GROUP,
    parquetRowGroupBytes: 1 << 30,
  });
  for (const row of rows) body.append((buf, pos) => w.type.encode(row, buf, pos));
  body.close({});
  return Buffer.concat(body.blocks);
}

async function writeParquetjs(ds: Dataset, rows: Record<string, unknown>[], file: string): Promise<void> {
  const dir = process.env.PARQUETJS_DIR;
  const require = createRequire(import.meta.url);
  let lib: {
    ParquetSchema: new (s: unknown) => unknown;
    ParquetWriter: {
      openFile(
        s: unknown,
        p: string,
        o: unknown,
      ): Promise<{ appendRow(r: unknown): Promise<void>; close(): Promise<void> }>;
    };
  };
  try {
    lib = require(dir ? join(dir, 'dist/parquet.js') : '@dsnp/parquetjs');
  } catch (err) {
    throw new Error(`@dsnp/parquetjs cannot be loaded (${(err as Error).message.split('\n')[0]})`);
  }
  const layout = parquetLayoutOf(writerSchema(ds));
  const fields: Record<string, unknown> = {};
  for (const c of layout.columns) {
    const e = c.element;
    const optional = e.repetition_type === 'OPTIONAL';
    const lt = e.logical_type;
    if (lt?.type === 'DECIMAL')
      fields[c.name] = { type: 'DECIMAL', precision: lt.precision, scale: lt.scale, optional, compression: 'SNAPPY' };
    else if (lt?.type === 'TIMESTAMP') fields[c.name] = { type: 'TIMESTAMP_MILLIS', optional, compression: 'SNAPPY' };
    else if (e.type === 'INT64') fields[c.name] = { type: 'INT64', optional, compression: 'SNAPPY' };
    else if (e.type === 'INT32') fields[c.name] = { type: 'INT32', optional, compression: 'SNAPPY' };
    else fields[c.name] = { type: 'UTF8', optional, compression: 'SNAPPY' };
  }
  const writer = await lib.ParquetWriter.openFile(new lib.ParquetSchema(fields), file, { rowGroupSize: ROW_GROUP });
  for (const row of rows) {
    const out: Record<string, unknown> = {};
    for (const c of layout.columns) {
      const v = row[c.name];
      if (v == null) continue;
      // parquetjs wants plain numbers (its INT64 statistics mix bigint and number), decimals as floats.
      out[c.name] = c.element.logical_type?.type === 'DECIMAL' ? Number(v) : v; // it scales the float itself
    }
    await writer.appendRow(out);
  }
  await writer.close();
}

/** Child: build the rows, write them with one writer, report time and peak RSS. */
async function child(spec: string): Promise<void> {
  const [name, ds, file] = spec.split(':') as [WriterName, Dataset, string];
  const rows = rowsOf(ds);
  const started = process.hrtime.bigint();
  if (name === 'hyparquet-snappy') writeFileSync(file, writeHyparquet(ds, rows, 'snappy'));
  if (name === 'hyparquet-zstd') writeFileSync(file, writeHyparquet(ds, rows, 'zstd'));
  if (name === 'sink-zstd') writeFileSync(file, writeSink(ds, rows));
  if (name === 'parquetjs-snappy') await writeParquetjs(ds, rows, file);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(JSON.stringify({ ms, peakRssMiB: process.resourceUsage().maxRSS / 1024 }));
}

interface Result {
  writer: WriterName;
  dataset: Dataset;
  rows: number;
  ms?: number;
  rowsPerSec?: number;
  peakMiB?: number;
  bytes?: number;
  duckdb?: string;
  error?: string;
}

/** The exact sum of the data set's money column, from its decimal strings (BigInt, no float). */
function exactSum(ds: Dataset): string {
  const col = ds === 'orders' ? 'total_amount' : 'price';
  let cents = 0n;
  for (const row of rowsOf(ds)) if (row[col] != null) cents += unscaledDecimal(row[col], 2);
  const neg = cents < 0n;
  const digits = (neg ? -cents : cents).toString().padStart(3, '0');
  return `${neg ? '-' : ''}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

async function duckCheck(file: string, ds: Dataset): Promise<string> {
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  try {
    const money = ds === 'orders' ? 'total_amount' : 'price';
    const time = ds === 'orders' ? 'ordered_at' : 'event_time';
    const d = await con.runAndReadAll(`DESCRIBE SELECT ${money}, ${time} FROM read_parquet('${file}')`);
    const types = d.getRowObjectsJson().map((r) => String(r.column_type));
    const s = await con.runAndReadAll(
      `SELECT count(*)::BIGINT n, sum(${money}::DECIMAL(18,2))::VARCHAR total FROM read_parquet('${file}')`,
    );
    const [row] = s.getRowObjectsJson();
    const exact = exactSum(ds);
    const verdict = row.total === exact ? '(exact)' : `(WRONG: ${exact})`;
    return `${types.join(', ')}; ${row.n} rows; sum ${row.total} ${verdict}`;
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

async function main(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-parquet-bench-'));
  const results: Result[] = [];
  try {
    for (const ds of Object.keys(DATASETS) as Dataset[]) {
      let baseline = 0;
      for (const w of WRITERS) {
        const file = join(dir, `${w}-${ds}.parquet`);
        const res: Result = { writer: w, dataset: ds, rows: DATASETS[ds].rows };
        try {
          const out = execFileSync(
            process.execPath,
            [
              self,
              '--clicks',
              args.clicks!,
              '--orders',
              args.orders!,
              '--row-group',
              String(ROW_GROUP),
              '--child',
              `${w}:${ds}:${file}`,
            ],
            {
              encoding: 'utf8',
              stdio: ['ignore', 'pipe', 'pipe'],
              env: process.env,
            },
          );
          const { ms, peakRssMiB } = JSON.parse(out) as { ms: number; peakRssMiB: number };
          if (w === 'baseline') {
            baseline = peakRssMiB;
            continue;
          }
          res.ms = Math.round(ms);
          res.rowsPerSec = Math.round(res.rows / (ms / 1000));
          res.peakMiB = Math.round(peakRssMiB - baseline);
          res.bytes = statSync(file).size;
          res.duckdb = await duckCheck(file, ds);
        } catch (err) {
          if (w === 'baseline') throw err;
          const stderr = (err as { stderr?: string }).stderr ?? '';
          res.error = (/Error: (.*)/.exec(stderr)?.[1] ?? (err as Error).message).slice(0, 160);
        }
        results.push(res);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`Parquet writers, row groups of ${ROW_GROUP} rows (MiB: peak RSS above building the rows)`);
  console.log('writer             data     rows     ms   rows/s   MiB      bytes  DuckDB reads');
  for (const r of results) {
    const cells = r.error
      ? [`unavailable: ${r.error}`]
      : [
          String(r.ms).padStart(6),
          String(r.rowsPerSec).padStart(8),
          String(r.peakMiB).padStart(5),
          String(r.bytes).padStart(10),
          ` ${r.duckdb}`,
        ];
    console.log(`${r.writer.padEnd(18)} ${r.dataset.padEnd(7)} ${String(r.rows).padStart(6)} ${cells.join(' ')}`);
  }
  const outDir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  const node = process.version;
  const parquetjs = process.env.PARQUETJS_DIR
    ? JSON.parse(readFileSync(join(process.env.PARQUETJS_DIR, 'package.json'), 'utf8')).version
    : 'installed';
  writeFileSync(
    join(outDir, 'parquet.json'),
    `${JSON.stringify({ node, rowGroup: ROW_GROUP, parquetjs, results }, null, 2)}\n`,
  );
}

if (args.child) await child(args.child);
else await main();
