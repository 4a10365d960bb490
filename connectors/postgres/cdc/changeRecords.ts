import type { Message } from '../../../src/kafka/kafkaTypes.ts';
import type { AvroSerde } from '../../../src/serde/avroSerde.ts';
import type { TableSpec } from '../extract/tables.ts';
import { formatLsn } from './lsn.ts';
import { type CdcOp, keyOf, toRowImage } from './rowImage.ts';

/** Where one table's changes go: its spec, topic and value schema id. */
export interface TableTarget {
  spec: TableSpec;
  topic: string;
  schemaId: number;
}

/** A Kafka record of a change, ready to produce. */
export interface ChangeRecord {
  topic: string;
  table: string;
  op: CdcOp | 'tombstone';
  message: Message;
  bytes: number;
}

/** Headers naming the change: the commit LSN of its transaction (or the snapshot's) and its place in it. */
export const LSN_HEADER = 'sluice.cdc.lsn';
export const SEQ_HEADER = 'sluice.cdc.seq';

/**
 * The records of one change, keyed by primary key like the extract's: the row image (op c, u,
 * r or d), and after a delete a tombstone with the same key, so compaction forgets the row.
 */
export function changeRecords(
  serde: AvroSerde,
  target: TableTarget,
  op: CdcOp,
  tuple: Record<string, unknown>,
  at: { lsn: bigint; seq: number },
): ChangeRecord[] {
  const key = keyOf(target.spec, tuple);
  const value = serde.encodeSync(target.schemaId, toRowImage(target.spec, tuple, op, Date.now()));
  const headers = { [LSN_HEADER]: formatLsn(at.lsn), [SEQ_HEADER]: String(at.seq) };
  const { topic } = target;
  const table = target.spec.table;
  const image: ChangeRecord = { topic, table, op, message: { key, value, headers }, bytes: value.length + 64 };
  if (op !== 'd') return [image];
  return [image, { topic, table, op: 'tombstone', message: { key, value: null, headers }, bytes: 64 }];
}

/** Largest sum of record bytes in one produce request: well under the brokers' default 1 MiB. */
export const MAX_REQUEST_BYTES = 512 * 1024;

/** Records grouped by topic, each topic's in their original order (per-key order is kept). */
export function byTopic(records: readonly ChangeRecord[]): { topic: string; messages: Message[] }[] {
  const topics = new Map<string, Message[]>();
  for (const r of records) {
    let list = topics.get(r.topic);
    if (!list) topics.set(r.topic, (list = []));
    list.push(r.message);
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
}

/** Splits records, in order, into requests of at most MAX_REQUEST_BYTES. */
export function requestsOf(records: readonly ChangeRecord[]): ChangeRecord[][] {
  const out: ChangeRecord[][] = [];
  let current: ChangeRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    if (current.length && bytes + r.bytes > MAX_REQUEST_BYTES) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += r.bytes;
  }
  if (current.length) out.push(current);
  return out;
}
