import { asSluiceError, SluiceError } from '../../../src/core/errors.ts';
import type { KafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import type { Message } from '../../../src/kafka/kafkaTypes.ts';
import { fetchEndOffsets, type RangeRecord, readRange } from '../../../src/kafka/readRange.ts';

/**
 * Extract positions: one per table in a compacted topic (key = table, value JSON
 * `{"updated_at", "id"}`, the timestamp in microseconds, UTC). The latest record per key wins; a
 * tombstone forgets the table, whose next run is then a snapshot.
 */

/** A position in a table's change order: exclusive lower bound of the next extract. */
export interface ExtractPosition {
  /** `updated_at` of the last durable row, ISO-8601 UTC with microseconds (Postgres precision). */
  updated_at: string;
  /** Primary key of that row, as a decimal string (bigint). */
  id: string;
}

const TS_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

function parsePosition(raw: Buffer, where: { topic: string; partition: number; offset: string }): ExtractPosition {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    value = undefined;
  }
  const v = value as { updated_at?: unknown; id?: unknown } | undefined;
  const id = typeof v?.id === 'number' ? String(v.id) : v?.id;
  const valid = v && typeof v.updated_at === 'string' && TS_PATTERN.test(v.updated_at) && typeof id === 'string';
  if (!valid || !/^-?\d+$/.test(id as string)) {
    throw new SluiceError(
      'EXTRACT_POSITION_INVALID',
      `${where.topic} holds a position that is not {"updated_at": "<ISO UTC>", "id": "<pk>"} ` +
        `at partition ${where.partition} offset ${where.offset}`,
      { coordinates: where },
    );
  }
  return { updated_at: v.updated_at as string, id: id as string };
}

/** The positions-topic record storing `table`'s position. */
export function positionMessage(table: string, position: ExtractPosition): Message {
  return { key: table, value: JSON.stringify(position) };
}

/** A read of the positions topic in progress. */
interface PositionsRead {
  topic: string;
  positions: Map<string, ExtractPosition>;
  /** Keys whose latest value is not a position; a later value or tombstone clears them. */
  invalid: Map<string, SluiceError>;
  /** End offset per partition with records, when the read started. */
  ends: Map<number, bigint>;
  /** Next offset to read per partition. */
  next: Map<number, bigint>;
  lastProgressAt: number;
}

function apply(read: PositionsRead, r: RangeRecord): void {
  read.lastProgressAt = Date.now();
  read.next.set(r.partition, BigInt(r.offset) + 1n);
  const key = r.key?.toString('utf8');
  if (key === undefined) return;
  read.positions.delete(key);
  read.invalid.delete(key);
  if (r.value === null) return;
  try {
    read.positions.set(key, parsePosition(r.value, { topic: read.topic, partition: r.partition, offset: r.offset }));
  } catch (err) {
    // Not thrown from the reader's callback, where kafkajs would retry the batch forever.
    read.invalid.set(key, err as SluiceError);
  }
}

/**
 * Waits for the read, or until it made no progress for `timeoutMs`: then it fails, unless every
 * partition still short of its end offset was read (its tail records were compacted away, a
 * tombstone past delete.retention.ms, so the old end offset is never reached). An abort also ends
 * the wait. The caller stops a read left behind (its consumer would otherwise wait for offsets
 * that never come).
 */
function settled(read: PositionsRead, reading: Promise<number>, timeoutMs: number, signal?: AbortSignal) {
  return new Promise<void>((resolve, reject) => {
    const finish = (end: () => void) => {
      clearInterval(watchdog);
      end();
    };
    const watchdog = setInterval(() => {
      if (signal?.aborted) return finish(resolve);
      if (Date.now() - read.lastProgressAt < timeoutMs) return;
      const missing = [...read.ends].filter(([p, end]) => (read.next.get(p) ?? 0n) < end).map(([p]) => p);
      if (missing.every((p) => read.next.has(p))) return finish(resolve);
      const message =
        `reading the positions topic ${read.topic} made no progress for ${timeoutMs} ms ` +
        `(partitions ${missing.join(', ')} unread)`;
      finish(() => reject(new SluiceError('KAFKA_CONNECT_FAILED', message)));
    }, 200);
    reading.then(
      () => finish(resolve),
      (err) => finish(() => reject(asSluiceError(err, 'KAFKA_CONNECT_FAILED'))),
    );
  });
}

async function endOffsets(kafka: KafkaClient, topic: string): Promise<Map<number, bigint>> {
  try {
    const ends = await fetchEndOffsets(kafka, topic);
    return new Map(ends.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]));
  } catch (err) {
    throw new SluiceError(
      'KAFKA_CONNECT_FAILED',
      `cannot read the end offsets of the positions topic ${topic}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * Reads the compacted positions topic to its end (the end offsets seen at start) through
 * `readRange`. The latest record per key wins; a tombstone forgets the table (its next run is a
 * snapshot). A key whose latest value is not a position fails the read (EXTRACT_POSITION_INVALID).
 *
 * @example
 *   const positions = await readPositions(kafka, 'sluice.extract.positions', { timeoutMs: 15_000 });
 */
export async function readPositions(
  kafka: KafkaClient,
  topic: string,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<Map<string, ExtractPosition>> {
  const ends = await endOffsets(kafka, topic);
  const read: PositionsRead = {
    topic,
    positions: new Map(),
    invalid: new Map(),
    ends,
    next: new Map(),
    lastProgressAt: Date.now(),
  };
  if (ends.size === 0) return read.positions;
  const stop = new AbortController();
  const reading = readRange(kafka, topic, (r) => apply(read, r), {
    partitions: new Set(ends.keys()),
    to: ends,
    purpose: `reading the extract positions from ${topic}`,
    signal: stop.signal,
  });
  try {
    await settled(read, reading, opts.timeoutMs ?? 15_000, opts.signal);
  } finally {
    stop.abort();
    await reading.catch(() => {}); // its consumer is disconnected before the positions are used
  }
  const [invalid] = read.invalid.values();
  if (invalid) throw invalid;
  return read.positions;
}
