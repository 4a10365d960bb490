import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { Output, SourceRecord } from '../../../src/topology/types.ts';
import type { MergeHookContext } from './config.ts';
import { copyRows } from './copyRows.ts';
import type { Cut, Member } from './member.ts';
import { isRowRejectedSqlState } from './pgErrors.ts';
import type { Unit } from './recordUnits.ts';
import { qualifiedName } from './sqlQuote.ts';
import { stageNames } from './stage.ts';
import {
  advancePositions,
  compareOffsets,
  lockPositions,
  type Position,
  partitionKey,
  positionKey,
  positionsAfter,
} from './storedOffsets.ts';

/**
 * One flush transaction: COPY each table's rows into its staging table, merge them into the
 * table, and advance the stored offsets — all or nothing. Rows below a stored offset are skipped
 * (another run or owner of the partition committed them), so replays neither lose nor double.
 */

/** What one table got from a flush: rows merged (replays not counted) and COPY bytes. */
export interface TableResult {
  rows: number;
  bytes: number;
}

/** The staging tables each pooled connection has created (they live as long as the session). */
export type StagedTables = WeakMap<pg.PoolClient, Set<string>>;

/** The table whose statement a flush error came from (the dead letter names it). */
const failedIn = new WeakMap<object, string>();

/** The sink whose table statement threw `err` in a flush transaction, if one did. */
export function tableThatFailed(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? failedIn.get(err) : undefined;
}

/**
 * One flush transaction: COPY and merge `cut`, and advance the stored offsets past its rows and
 * past the `advance` records (dead letters already durable). Returns, per member of `cut`, the
 * rows merged and the COPY bytes. `isolating` counts it as an isolation transaction.
 *
 * @example const results = await flushTransaction(pool, staged, cut, [], false);
 */
export async function flushTransaction(
  pool: pg.Pool,
  staged: StagedTables,
  cut: Cut,
  advance: Unit[],
  isolating: boolean,
): Promise<TableResult[]> {
  const offsetRows: Cut = [...cut];
  for (const u of advance) for (const [m, rows] of u.rows) offsetRows.push([m, rows]);
  for (const m of new Set(offsetRows.map(([m]) => m))) {
    m.stats.transactions++;
    if (isolating) m.stats.isolationTransactions++;
  }
  const client = await pool.connect();
  let ok = false;
  let keep = false;
  try {
    await ensureStaged(client, staged, cut);
    await client.query('begin');
    const positions = positionsAfter(offsetRows);
    const stored = await lockPositions(client, positions);
    const result: TableResult[] = [];
    for (const [m, rows] of cut) result.push(await copyAndMerge(client, m, rows, stored));
    await advancePositions(client, positions);
    await pauseBeforeCommit(cut, result, positions);
    await client.query('commit');
    ok = true;
    return result;
  } catch (err) {
    const rolledBack = await client.query('rollback').then(
      () => true,
      () => false,
    );
    // A row the server refused leaves a healthy session, which isolation goes on using; any
    // other failure drops the connection (its temp tables with it; the next one stages afresh).
    keep = rolledBack && isRowRejectedSqlState((err as { code?: unknown })?.code);
    throw err;
  } finally {
    client.release(ok || keep ? undefined : true);
  }
}

/** Creates the staging tables of `cut`'s members this connection does not have yet. */
async function ensureStaged(client: pg.PoolClient, staged: StagedTables, cut: Cut): Promise<void> {
  let ready = staged.get(client);
  if (!ready) {
    ready = new Set();
    staged.set(client, ready);
  }
  for (const [m] of cut) {
    if (ready.has(m.name)) continue;
    for (const sql of m.sql!.stage) await client.query(sql);
    ready.add(m.name);
  }
}

/** COPY and merge one table's rows the warehouse does not have yet. */
async function copyAndMerge(
  client: pg.PoolClient,
  m: Member,
  rows: Output[],
  stored: Map<string, bigint>,
): Promise<TableResult> {
  const fresh = freshRecords(rows, storedNextOf(m.name, stored));
  let bytes = 0;
  if (fresh.length) {
    try {
      bytes = await copyRows(client, m, fresh);
      const hooks = m.cfg.mergeHooks;
      const tx = hooks && hookContext(client, m);
      if (tx) await hooks.beforeMerge?.(tx);
      for (const sql of m.sql!.merge) await client.query(sql);
      if (tx) await hooks.afterMerge?.(tx);
    } catch (err) {
      // Which table refused: the dead letter names it.
      if (err && typeof err === 'object') failedIn.set(err, m.name);
      throw err;
    }
  }
  return { rows: fresh.length, bytes };
}

/** What a member's merge hooks get: the flush transaction's client, its staging table and its table. */
function hookContext(client: pg.PoolClient, m: Member): MergeHookContext {
  return {
    query: (sql, values) => client.query(sql, values),
    stage: `pg_temp.${stageNames(m.name).stage}`,
    table: qualifiedName(m.plan!),
  };
}

/** The stored next offset, as text, of each source partition of sink `name` ('0' where none is stored). */
function storedNextOf(name: string, stored: Map<string, bigint>): (topic: string, partition: number) => string {
  const byPartition = new Map<string, string>();
  return (topic, partition) => {
    const k = partitionKey(topic, partition);
    let next = byPartition.get(k);
    if (next === undefined) {
      next = (stored.get(positionKey(name, topic, partition)) ?? 0n).toString();
      byPartition.set(k, next);
    }
    return next;
  };
}

/** Records the warehouse does not have yet: at or after the stored offset, the last copy of a duplicate. */
function freshRecords(batch: Output[], storedNext: (topic: string, partition: number) => string): Output[] {
  const landed = (s: SourceRecord) => compareOffsets(s.offset, storedNext(s.topic, s.partition)) < 0;
  if (inOffsetOrder(batch)) {
    // The usual batch: every row sourced, each partition's offsets rising — nothing to dedupe.
    const out: Output[] = [];
    for (const o of batch) if (!landed(o.source!)) out.push(o);
    return out;
  }
  const byCoordinates = new Map<string, Output>();
  const out: Output[] = [];
  for (const o of batch) {
    const s = o.source;
    if (!s) {
      out.push(o);
      continue;
    }
    if (landed(s)) continue;
    byCoordinates.set(`${partitionKey(s.topic, s.partition)}\u0000${s.offset}`, o);
  }
  return out.concat([...byCoordinates.values()]);
}

/** Every row has a source and each source partition's offsets strictly rise (no re-delivered record). */
function inOffsetOrder(batch: Output[]): boolean {
  const last = new Map<string, string>();
  for (const o of batch) {
    const s = o.source;
    if (!s) return false;
    const k = partitionKey(s.topic, s.partition);
    const before = last.get(k);
    if (before !== undefined && compareOffsets(s.offset, before) <= 0) return false;
    last.set(k, s.offset);
  }
  return true;
}

/** Test hook (`pauseBeforeCommitMs`): waits between COPY and COMMIT so crash tests can kill the process there. */
async function pauseBeforeCommit(cut: Cut, result: TableResult[], positions: Position[]): Promise<void> {
  const pausing = cut.find(([m]) => m.cfg.pauseBeforeCommitMs > 0)?.[0].cfg;
  // Only a transaction that copied rows has a "between COPY and COMMIT" worth pausing in.
  if (!pausing || !result.some((r) => r.rows > 0)) return;
  pausing.onPauseBeforeCommit?.({
    sink: cut.map(([m]) => m.name).join(','),
    rows: result.reduce((n, r) => n + r.rows, 0),
    offsets: Object.fromEntries(positions.map((p) => [`${p.sink}:${p.topic}/${p.partition}`, p.next.toString()])),
  });
  await sleep(pausing.pauseBeforeCommitMs);
}
