import type pg from 'pg';
import type { Output } from '../../../src/topology/types.ts';
import { quoteIdent } from './sqlQuote.ts';

/**
 * `sluice.sluice_warehouse_offsets`: the Kafka offsets each sink consumed, written in the same
 * transaction as its rows (exactly-once effect without XA). The runner resumes each partition
 * from there; every flush skips what is below it.
 */

/** Schema of the offsets table. */
export const OFFSETS_SCHEMA = 'sluice';
/** Name of the offsets table. */
export const OFFSETS_TABLE = 'sluice_warehouse_offsets';
const OFFSETS = `${quoteIdent(OFFSETS_SCHEMA)}.${quoteIdent(OFFSETS_TABLE)}`;

/** A read-only query (through the sink's pool). */
export type Query = <R extends pg.QueryResultRow>(sql: string, args: unknown[]) => Promise<pg.QueryResult<R>>;

/** One (sink, topic, partition) position and the next offset to consume there. */
export interface Position {
  sink: string;
  topic: string;
  partition: number;
  next: bigint;
}

interface OffsetRow {
  sink: string;
  topic: string;
  partition: number;
  next_offset: string;
}

/** `create` statements of the offsets table (idempotent; run under the DDL lock). */
export function offsetsTableSql(): string[] {
  return [
    `create schema if not exists ${quoteIdent(OFFSETS_SCHEMA)}`,
    `create table if not exists ${OFFSETS} (
  sink text not null,
  topic text not null,
  partition integer not null,
  next_offset bigint not null,
  updated_at timestamptz not null default now(),
  primary key (sink, topic, partition)
)`,
    `comment on table ${OFFSETS} is 'Kafka offsets consumed by each warehouse sink, written in the same` +
      ' transaction as the rows: the runner resumes each partition from next_offset (exactly-once effect without' +
      " XA).'",
    `comment on column ${OFFSETS}.next_offset is 'The next offset to consume: every record below it is committed` +
      " in the sink''s table.'",
  ];
}

/** Partition keys by topic and partition number: flushes need one per row; building each was a hot spot. */
const partitionKeys = new Map<string, string[]>();

/** Map key of a source partition. */
export function partitionKey(topic: string, partition: number): string {
  let keys = partitionKeys.get(topic);
  if (!keys) {
    keys = [];
    partitionKeys.set(topic, keys);
  }
  return (keys[partition] ??= `${topic}\u0000${partition}`);
}

/** Map key of a (sink, topic, partition) position. */
export function positionKey(sink: string, topic: string, partition: number): string {
  return `${sink}\u0000${partitionKey(topic, partition)}`;
}

/**
 * Compares two Kafka offsets written as decimal strings (non-negative, no leading zeros) without
 * parsing them: the longer is greater, else the text order is the number order.
 */
export function compareOffsets(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The positions that rows of each sink advance, each to one past its greatest offset. */
export function positionsAfter(rows: Iterable<[{ name: string }, Output[]]>): Position[] {
  const out: Position[] = [];
  for (const [m, outputs] of rows) {
    // The greatest offset per partition, as text; parsed once per partition at the end.
    const greatest = new Map<string, { topic: string; partition: number; offset: string }>();
    for (const o of outputs) {
      const s = o.source;
      if (!s) continue;
      const k = partitionKey(s.topic, s.partition);
      const cur = greatest.get(k);
      if (!cur) greatest.set(k, { topic: s.topic, partition: s.partition, offset: s.offset });
      else if (compareOffsets(s.offset, cur.offset) > 0) cur.offset = s.offset;
    }
    for (const g of greatest.values())
      out.push({ sink: m.name, topic: g.topic, partition: g.partition, next: BigInt(g.offset) + 1n });
  }
  // Two members of one name (a cut lists each member once, isolation may repeat one): merge them.
  const merged = new Map<string, Position>();
  for (const p of out) {
    const k = positionKey(p.sink, p.topic, p.partition);
    const cur = merged.get(k);
    if (!cur) merged.set(k, p);
    else if (p.next > cur.next) cur.next = p.next;
  }
  return [...merged.values()];
}

/**
 * Locks `positions` in the open transaction and returns their stored next offsets (by
 * `positionKey`). A previous owner of a partition still committing (rebalance) goes first, and we
 * then see its offsets and skip what it wrote.
 */
export async function lockPositions(client: pg.PoolClient, positions: Position[]): Promise<Map<string, bigint>> {
  const stored = new Map<string, bigint>();
  if (!positions.length) return stored;
  // One round trip: the upsert creates missing rows and row-locks existing ones (a no-op update
  // locks like FOR UPDATE), in key order so two flushes never wait on each other crosswise, and
  // returns what is stored.
  const { rows } = await client.query<OffsetRow>(
    `insert into ${OFFSETS} as o (sink, topic, partition, next_offset)
          select s, t, p, 0 from unnest($1::text[], $2::text[], $3::int[]) as u(s, t, p) order by s, t, p
          on conflict (sink, topic, partition) do update set next_offset = o.next_offset
          returning o.sink, o.topic, o.partition, o.next_offset::text as next_offset`,
    [positions.map((p) => p.sink), positions.map((p) => p.topic), positions.map((p) => p.partition)],
  );
  for (const r of rows) stored.set(positionKey(r.sink, r.topic, r.partition), BigInt(r.next_offset));
  return stored;
}

/** Stores `positions` in the open transaction; `greatest` keeps a stored offset from moving back. */
export async function advancePositions(client: pg.PoolClient, positions: Position[]): Promise<void> {
  if (!positions.length) return;
  await client.query(
    `insert into ${OFFSETS} as o (sink, topic, partition, next_offset)
          select s, t, p, n from unnest($1::text[], $2::text[], $3::int[], $4::bigint[]) as u(s, t, p, n)
          on conflict (sink, topic, partition)
          do update set next_offset = greatest(o.next_offset, excluded.next_offset), updated_at = now()`,
    [
      positions.map((p) => p.sink),
      positions.map((p) => p.topic),
      positions.map((p) => p.partition),
      positions.map((p) => p.next.toString()),
    ],
  );
}

/** The stored next offsets of `positions` (by `positionKey`), read without a lock. */
export async function readStoredPositions(
  query: Query,
  positions: { sink: string; topic: string; partition: number }[],
): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  if (!positions.length) return out;
  const { rows } = await query<OffsetRow>(
    `select o.sink, o.topic, o.partition, o.next_offset::text as next_offset from ${OFFSETS} o
           join unnest($1::text[], $2::text[], $3::int[]) as u(s, t, p)
             on o.sink = u.s and o.topic = u.t and o.partition = u.p`,
    [positions.map((p) => p.sink), positions.map((p) => p.topic), positions.map((p) => p.partition)],
  );
  for (const r of rows) out.set(positionKey(r.sink, r.topic, r.partition), BigInt(r.next_offset));
  return out;
}

/** The stored next offset of each partition of `topic` for `sink` (what the runner seeks to). */
export async function readStoredOffsets(query: Query, sink: string, topic: string): Promise<Map<number, string>> {
  const { rows } = await query<{ partition: number; next_offset: string }>(
    `select partition, next_offset::text as next_offset from ${OFFSETS} where sink = $1 and topic = $2`,
    [sink, topic],
  );
  return new Map(rows.map((r) => [r.partition, r.next_offset]));
}
