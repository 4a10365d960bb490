import type pg from 'pg';
import { SluiceError } from '../../../src/core/errors.ts';
import { createLogger } from '../../../src/core/log.ts';
import type { Message } from '../../../src/kafka/kafkaTypes.ts';
import type { OltpTable } from '../../../src/shop/oltp/oltpTables.ts';
import type { PostgresIncrementalSourceConfig } from './config.ts';
import type { ExtractConnection } from './connection.ts';
import type { ExtractMode, ExtractProgress, TableExtractResult } from './extractResult.ts';
import type { ExtractStats } from './extractStats.ts';
import { logHorizon, readHorizon } from './horizon.ts';
import { type ExtractPosition, positionMessage } from './positions.ts';
import { type Cursor, pageQuery, TABLE_SPECS, type TableSpec, toValue } from './tables.ts';

const log = createLogger('extract.postgres');

/** What a run hands each table's extract. */
export interface ExtractHooks {
  /** Stops the run after the page in flight is durable and its position stored. */
  signal?: AbortSignal;
  /** Called about every second while a table is read, and once when it is done. */
  onProgress?: (progress: ExtractProgress) => void;
  /** Totals to update (the schedule passes its own). */
  stats?: ExtractStats;
}

/** One table's run: where it reads, writes and counts. */
interface TableRun {
  conn: ExtractConnection;
  db: pg.Client;
  source: PostgresIncrementalSourceConfig;
  spec: TableSpec;
  schemaId: number;
  /** 'r' for every row of a snapshot, full or since run; else 'c' or 'u' per row. */
  op: 'r' | undefined;
  result: TableExtractResult;
  hooks: ExtractHooks;
}

/** One page read, encoded and ready to produce. */
interface Page {
  messages: Message[];
  sizes: number[];
  bytes: number;
  /** The last row below the horizon: the position the page may store. */
  position: ExtractPosition | undefined;
  heldBack: number;
  cursor: Cursor;
}

async function pgStep<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof SluiceError
      ? err
      : new SluiceError('PG_QUERY_FAILED', `${what}: ${(err as Error).message}`, { cause: err });
  }
}

async function readPage(run: TableRun, cursor: Cursor | null, cap: string): Promise<Record<string, unknown>[]> {
  const values: unknown[] = [run.source.pageSize, cap];
  if (cursor) values.push(cursor.updated_at, ...(cursor.id === null ? [] : [cursor.id]));
  const what = `reading ${run.conn.database}.${run.spec.table}`;
  return pgStep(what, async () => (await run.db.query({ ...pageQuery(run.spec, cursor), values })).rows);
}

function encodePage(run: TableRun, rows: Record<string, unknown>[]): Page {
  const extractedAt = Date.now();
  const last = rows[rows.length - 1];
  const cursor = { updated_at: last._cursor_ts as string, id: last._cursor_id as string };
  const page: Page = { messages: [], sizes: [], bytes: 0, position: undefined, heldBack: 0, cursor };
  for (const row of rows) {
    const value = toValue(run.spec, row, run.op ?? (row._fresh ? 'c' : 'u'), extractedAt);
    const encoded = run.conn.serde!.encodeSync(run.schemaId, value);
    page.messages.push({ key: row._cursor_id as string, value: encoded });
    page.sizes.push(encoded.length + 16);
    page.bytes += encoded.length;
    if (row._below_horizon) page.position = { updated_at: row._cursor_ts as string, id: row._cursor_id as string };
    else page.heldBack++;
  }
  return page;
}

async function publishPage(run: TableRun, page: Page): Promise<void> {
  const { table, topic } = run.result;
  await run.conn.produceRows(topic, page.messages, page.sizes);
  // Only now may the position move: everything before it is acknowledged.
  if (page.position) await run.conn.send(run.source.positionsTopic, [positionMessage(table, page.position)]);
  for (const totals of [run.result, run.hooks.stats]) {
    if (!totals) continue;
    totals.rows += page.messages.length;
    totals.batches++;
    totals.bytes += page.bytes;
  }
  run.result.heldBack += page.heldBack;
  if (page.position) {
    run.result.position = page.position;
    if (run.hooks.stats) run.hooks.stats.positions[table] = page.position;
  }
}

/** Reads pages until one is short; each page is produced while the next is read. */
async function publishPages(run: TableRun, start: Cursor | null, cap: string): Promise<void> {
  let cursor = start;
  let pending: Promise<void> | undefined;
  for (;;) {
    const rows = await readPage(run, cursor, cap);
    // The previous page's events and position became durable while this page was read.
    if (pending) await pending;
    pending = undefined;
    if (rows.length === 0) break;
    const page = encodePage(run, rows);
    cursor = page.cursor;
    pending = publishPage(run, page);
    pending.catch(() => {}); // awaited below; this only avoids an unhandled-rejection report meanwhile
    if (rows.length < run.source.pageSize || run.hooks.signal?.aborted) break;
  }
  if (pending) await pending;
}

/** The horizon first, then the snapshot: the order the proof in readHorizon needs. */
async function extractInSnapshot(run: TableRun, start: Cursor | null): Promise<void> {
  const { db, result } = run;
  const { database } = run.conn;
  const horizon = await pgStep(`reading the transaction horizon of ${database}`, () => readHorizon(db, run.source));
  result.horizon = horizon.cap;
  result.blockingTransaction = horizon.blocking;
  logHorizon(horizon, { database, table: result.table, safetyLagMs: run.source.safetyLagMs });
  log.debug(
    { table: result.table, mode: result.mode, horizon: horizon.cap, snapshotXmin: horizon.snapshotXmin, start },
    'extracting',
  );
  await pgStep(`opening the snapshot of ${database}.${result.table}`, () =>
    db.query('begin isolation level repeatable read read only'),
  );
  try {
    await publishPages(run, start, horizon.cap);
  } catch (err) {
    await db.query('rollback').catch(() => {});
    throw err;
  }
  await pgStep(`closing the snapshot of ${database}.${result.table}`, () => db.query('commit'));
}

function emptyResult(table: OltpTable, topic: string, mode: ExtractMode, start: Cursor | null): TableExtractResult {
  const startPosition = start && start.id !== null ? { updated_at: start.updated_at, id: start.id } : null;
  return {
    table,
    topic,
    mode,
    rows: 0,
    batches: 0,
    bytes: 0,
    heldBack: 0,
    startPosition,
    position: startPosition,
    horizon: '',
    blockingTransaction: null,
    elapsedMs: 0,
  };
}

function reporter(result: TableExtractResult, t0: number, onProgress: ExtractHooks['onProgress']) {
  return (done: boolean) => {
    const elapsedMs = performance.now() - t0;
    onProgress?.({
      table: result.table,
      rows: result.rows,
      elapsedMs: Math.round(elapsedMs),
      rowsPerSecond: Math.round((result.rows * 1000) / Math.max(1, elapsedMs)),
      done,
    });
  };
}

/**
 * Extracts one table after `start` (or from `updated_at >= start` when its id is null) inside one
 * REPEATABLE READ snapshot, producing each page and then storing its position.
 */
export async function extractTable(
  conn: ExtractConnection,
  source: PostgresIncrementalSourceConfig,
  table: OltpTable,
  start: Cursor | null,
  mode: ExtractMode,
  hooks: ExtractHooks,
): Promise<TableExtractResult> {
  const t0 = performance.now();
  const result = emptyResult(table, conn.topicOf(table), mode, start);
  const run: TableRun = {
    conn,
    db: conn.db!,
    source,
    spec: TABLE_SPECS[table],
    schemaId: conn.schemaIds.get(table)!,
    op: mode === 'incremental' ? undefined : 'r',
    result,
    hooks,
  };
  const report = reporter(result, t0, hooks.onProgress);
  const ticker = hooks.onProgress ? setInterval(() => report(false), 1000) : undefined;
  try {
    await extractInSnapshot(run, start);
  } finally {
    if (ticker) clearInterval(ticker);
    result.elapsedMs = Math.round(performance.now() - t0);
  }
  report(true);
  if (result.heldBack > 0) {
    log.info(
      { table, heldBack: result.heldBack, horizon: result.horizon, blocking: result.blockingTransaction },
      'rows at or after the horizon were published; the position stays before them and the next run re-reads them',
    );
  }
  return result;
}
