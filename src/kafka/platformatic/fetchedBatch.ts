import { IS_CONTROL, type KafkaRecord, type RecordsBatch } from '@platformatic/kafka';
import type { IHeaders, KafkaMessage } from '../kafkaTypes.ts';
import { type AbortedTransaction, dropAbortedBatches } from './dropAbortedBatches.ts';

/** Batch attribute bit 3: the broker stamped the batch (LogAppendTime), not the producer. */
const LOG_APPEND_TIME = 1 << 3;

/** What a fetch response says about one partition (the fields a batch is made of). */
export interface FetchedPartition {
  highWatermark: bigint;
  records?: RecordsBatch[] | null;
  abortedTransactions?: AbortedTransaction[] | null;
}

/**
 * One partition's share of a fetch response in the shape of a kafkajs `Batch`: `messages` are
 * the data records at or after the fetch offset (offsets, timestamps and the high watermark as
 * decimal strings, headers by name with Buffer values — an array when a name repeats), without
 * control records or records of aborted transactions.
 *
 * `lastOffset()` is the last offset the response covers (from the record batch headers, markers
 * and aborted records included), so resolving it moves the position past everything fetched.
 * `hasRecords` is false when the response held nothing at or after the fetch offset;
 * `isEmptyDueToFiltering()` is true when it held only markers or aborted records.
 *
 * @example
 *   const batch = new FetchedBatch('orders', 0, 42n, partitionResponse, true);
 *   if (batch.isEmptyDueToFiltering()) resolve(batch.lastOffset());
 */
export class FetchedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly highWatermark: string;
  readonly messages: KafkaMessage[];
  /** Something at or after the fetch offset was fetched (records, markers or aborted records). */
  readonly hasRecords: boolean;
  readonly #first: bigint | undefined;
  readonly #last: bigint;
  readonly #high: bigint;

  constructor(topic: string, partition: number, fetchOffset: bigint, data: FetchedPartition, readCommitted: boolean) {
    this.topic = topic;
    this.partition = partition;
    this.#high = data.highWatermark;
    this.highWatermark = data.highWatermark.toString();
    const raw = data.records ?? [];
    let last = fetchOffset - 1n;
    for (const b of raw) {
      const end = b.firstOffset + BigInt(b.lastOffsetDelta);
      if (end > last) last = end;
    }
    this.#last = last;
    this.hasRecords = last >= fetchOffset;
    const kept = readCommitted ? dropAbortedBatches(raw, data.abortedTransactions ?? []) : raw;
    this.messages = [];
    for (const b of kept) {
      if (this.#first === undefined && b.records.length) this.#first = firstAtOrAfter(b, fetchOffset);
      if (b.attributes & IS_CONTROL) continue;
      for (const r of b.records) {
        const offset = b.firstOffset + BigInt(r.offsetDelta);
        if (offset >= fetchOffset) this.messages.push(toMessage(b, r, offset));
      }
    }
  }

  isEmpty(): boolean {
    return this.messages.length === 0;
  }

  /** Only transaction markers or aborted records were fetched: nothing to hand over, but progress. */
  isEmptyDueToFiltering(): boolean {
    return this.hasRecords && this.messages.length === 0;
  }

  firstOffset(): string | null {
    return this.#first === undefined ? null : this.#first.toString();
  }

  lastOffset(): string {
    return (this.hasRecords ? this.#last : this.#high - 1n).toString();
  }

  offsetLag(): string {
    return (this.#high - 1n - BigInt(this.lastOffset())).toString();
  }

  offsetLagLow(): string {
    return this.#first === undefined ? '0' : (this.#high - 1n - this.#first).toString();
  }
}

function firstAtOrAfter(b: RecordsBatch, fetchOffset: bigint): bigint | undefined {
  for (const r of b.records) {
    const offset = b.firstOffset + BigInt(r.offsetDelta);
    if (offset >= fetchOffset) return offset;
  }
  return undefined;
}

function toMessage(b: RecordsBatch, r: KafkaRecord, offset: bigint): KafkaMessage {
  const timestamp = b.attributes & LOG_APPEND_TIME ? b.maxTimestamp : b.firstTimestamp + r.timestampDelta;
  return {
    key: r.key,
    value: r.value,
    timestamp: timestamp.toString(),
    attributes: r.attributes,
    offset: offset.toString(),
    headers: headersOf(r.headers),
  };
}

/** Record headers by name, as kafkajs hands them: a Buffer, or an array of them when a name repeats. */
export function headersOf(entries: [Buffer | null, Buffer | null][]): IHeaders {
  const headers: IHeaders = {};
  for (const [k, v] of entries) {
    const name = k?.toString() ?? '';
    const value = v as Buffer;
    const seen = headers[name];
    if (seen === undefined) headers[name] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else headers[name] = [seen, value];
  }
  return headers;
}
