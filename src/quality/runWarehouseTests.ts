import pg from 'pg';
import { type Config, pgConnection } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { layerSchemas } from '../shop/warehouseModel.ts';
import { testName, WAREHOUSE_TESTS, type WarehouseTest, type WarehouseTestKind } from '../shop/warehouseTests.ts';
import { warehouseTestSql } from './warehouseTestSql.ts';
import { textTable } from '../core/textTable.ts';

/**
 * Runs the warehouse tests (`src/shop/warehouseTests.ts`), each as one query in a read-only
 * transaction, and reports per test: pass, fail, warn (a failing test of severity warn, or data
 * older than the freshness warn age) or error (the query could not run: a missing table, say).
 */

export type WarehouseTestStatus = 'pass' | 'fail' | 'warn' | 'error';

export interface WarehouseTestResult {
  name: string;
  kind: WarehouseTestKind;
  /** The relation tested, as in the database: `schema.table` (the schema prefix included). */
  table: string;
  column: string;
  status: WarehouseTestStatus;
  /** Rows that break the test (freshness: 1 when stale or empty, else 0). */
  failingRows: number;
  /** Up to 5 values naming failing rows: keys, orphans, unknown values (freshness: the newest value). */
  examples: string[];
  /** Why: the freshness age, or the error of a test that could not run. */
  message?: string;
}

export interface WarehouseTestOptions {
  schemaPrefix?: string;
  tests?: readonly WarehouseTest[];
}

/**
 * Runs every test on a connected client to the warehouse database, one after the other.
 *
 * @example const results = await runWarehouseTests(client, { schemaPrefix: 'it_x' });
 */
export async function runWarehouseTests(
  client: pg.ClientBase,
  opts: WarehouseTestOptions = {},
): Promise<WarehouseTestResult[]> {
  const results: WarehouseTestResult[] = [];
  for (const t of opts.tests ?? WAREHOUSE_TESTS) results.push(await runOne(client, t, opts.schemaPrefix ?? ''));
  return results;
}

async function runOne(client: pg.ClientBase, t: WarehouseTest, schemaPrefix: string): Promise<WarehouseTestResult> {
  const base = {
    name: testName(t),
    kind: t.kind,
    table: `${layerSchemas(schemaPrefix)[t.layer]}.${t.table}`,
    column: t.column,
  };
  const q = warehouseTestSql(t, schemaPrefix);
  try {
    await client.query('begin transaction read only');
    const { rows } = await client.query(q.text, q.values);
    return { ...base, ...outcomeOf(t, rows[0]) };
  } catch (err) {
    return { ...base, status: 'error', failingRows: 0, examples: [], message: (err as Error).message };
  } finally {
    await client.query('rollback').catch(() => {});
  }
}

/** Status, failing rows and examples from the one row a test query answers. */
export function outcomeOf(
  t: WarehouseTest,
  row: Record<string, unknown>,
): Pick<WarehouseTestResult, 'status' | 'failingRows' | 'examples' | 'message'> {
  const failed: WarehouseTestStatus = t.severity === 'warn' ? 'warn' : 'fail';
  if (t.kind === 'freshness') {
    const latest = row.latest == null ? undefined : new Date(row.latest as string | Date);
    const limits = `warn after ${duration(t.warnAfterMs)}, error after ${duration(t.errorAfterMs)}`;
    const sqlStatus = row.status as 'pass' | 'warn' | 'fail';
    const status = sqlStatus === 'fail' ? failed : sqlStatus;
    const message = latest
      ? `newest ${latest.toISOString()}, ${duration(Number(row.age_seconds) * 1000)} old (${limits})`
      : `no rows (${limits})`;
    return {
      status,
      failingRows: sqlStatus === 'pass' ? 0 : 1,
      examples: latest ? [latest.toISOString()] : [],
      message,
    };
  }
  const failingRows = Number(row.failing_rows);
  return { status: failingRows > 0 ? failed : 'pass', failingRows, examples: (row.examples as string[]) ?? [] };
}

/** 90 s → "1.5 min", 7_200_000 ms → "2 h". */
export function duration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  const fmt = (n: number) => String(Math.round(n * 10) / 10);
  if (s < 60) return `${fmt(s)} s`;
  if (s < 3600) return `${fmt(s / 60)} min`;
  if (s < 172_800) return `${fmt(s / 3600)} h`;
  return `${fmt(s / 86_400)} d`;
}

/**
 * Opens the warehouse database, runs the tests, closes it.
 *
 * @example const results = await checkWarehouse(loadConfig(), { schemaPrefix: '' });
 */
export async function checkWarehouse(cfg: Config, opts: WarehouseTestOptions = {}): Promise<WarehouseTestResult[]> {
  const client = new pg.Client({ ...pgConnection(cfg, cfg.warehouseDatabase), application_name: 'sluice-check' });
  try {
    await client.connect();
  } catch (err) {
    const message = `cannot open the warehouse database ${cfg.warehouseDatabase}: ${(err as Error).message}`;
    throw new SluiceError('PG_QUERY_FAILED', message, { cause: err });
  }
  try {
    return await runWarehouseTests(client, opts);
  } finally {
    await client.end().catch(() => {});
  }
}

export interface CheckSummary {
  ok: boolean;
  counts: Record<WarehouseTestStatus, number>;
}

/** Counts per status; `ok` unless a test failed or could not run (warnings pass). */
export function summarize(results: readonly WarehouseTestResult[]): CheckSummary {
  const counts: Record<WarehouseTestStatus, number> = { pass: 0, fail: 0, warn: 0, error: 0 };
  for (const r of results) counts[r.status]++;
  return { ok: counts.fail === 0 && counts.error === 0, counts };
}

/** The readable table `sluice check` prints: one line per test, then the counts. */
export function formatCheckTable(results: readonly WarehouseTestResult[]): string {
  const header = ['STATUS', 'TEST', 'FAILING', 'EXAMPLES / DETAIL'];
  const lines = results.map((r) => [r.status, r.name, String(r.failingRows), r.message ?? r.examples.join(', ')]);
  const { counts } = summarize(results);
  const total =
    `${results.length} tests: ${counts.pass} passed, ${counts.fail} failed, ${counts.warn} warned, ` +
    `${counts.error} could not run`;
  return [...textTable(header, lines), '', total].join('\n');
}
