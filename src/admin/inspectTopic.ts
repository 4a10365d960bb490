import { randomBytes } from 'node:crypto';
import type { Config } from '../config/config.ts';
import { SluiceError, isSluiceError } from '../core/errors.ts';
import { createKafkaClient, type KafkaClient } from '../kafka/createKafkaClient.ts';
import type { IHeaders } from '../kafka/kafkaTypes.ts';
import { createAvroSerde, type AvroSerde } from '../serde/avroSerde.ts';
import { createRegistryClient } from '../serde/schemaRegistry.ts';

/**
 * `sluice inspect`: a bounded read of one topic, decoded for people. Avro values go through the
 * registry; anything else is shown as escaped text plus base64, never as raw bytes, so a hostile
 * or binary record cannot drive the terminal. Also home of the bounded topic reader that the
 * other operator commands (`replay-dlq`, `topics`) share.
 *
 * @example
 *   const records = await inspectTopic(cfg, { topic: 'oltp.orders.dlq', fromBeginning: true, limit: 5 });
 */

/** A record as read, before any decoding. */
export interface RawRecord {
  topic: string;
  partition: number;
  offset: string;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
}

/** Where a bounded read starts in every selected partition (clamped to what the log still holds). */
export type ReadStart = { earliest: true } | { offset: bigint } | { timestamp: number } | { last: number };

export interface PartitionRange {
  topic: string;
  partition: number;
  low: bigint;
  high: bigint;
  start: bigint;
}

export interface ReadRangeOptions {
  /** Only these partitions (every partition when absent). */
  partitions?: number[];
  start?: ReadStart;
  /** Stop a partition after this many records. */
  maxPerPartition?: number;
  signal?: AbortSignal;
  /** Prefix of the throwaway consumer group id (never committed, deleted afterwards). */
  groupPrefix?: string;
  /** Also records of open and aborted transactions (default: read committed). */
  readUncommitted?: boolean;
  /**
   * Called for each record, one at a time, in offset order within a partition. Return `false` to
   * stop the whole read, `'skip-topic'` to stop reading this record's topic.
   */
  onRecord(
    record: RawRecord,
    ctx: { heartbeat(): Promise<void> },
  ): Promise<boolean | 'skip-topic' | void> | boolean | 'skip-topic' | void;
}

export interface ReadRangeResult {
  ranges: PartitionRange[];
  /** The read ended early: `onRecord` returned false or the signal aborted. */
  stopped: boolean;
}

/**
 * Reads topics from a start position up to the end offsets they had when the read began, then
 * returns: a snapshot read, not a subscription. kafkajs needs a consumer group, so a unique
 * throwaway one is used, never committed and deleted at the end.
 */
export async function readTopicRange(
  kafka: KafkaClient,
  topics: string | string[],
  opts: ReadRangeOptions,
): Promise<ReadRangeResult> {
  const list = Array.isArray(topics) ? topics : [topics];
  const ranges: PartitionRange[] = [];
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    for (const topic of list) {
      if (!existing.has(topic))
        throw new SluiceError('CLI_USAGE', `topic ${topic} does not exist (\`sluice topics\` lists the topics)`);
      const offsets = await admin.fetchTopicOffsets(topic);
      if (opts.partitions) {
        const missing = opts.partitions.filter((p) => !offsets.some((o) => o.partition === p));
        if (missing.length)
          throw new SluiceError(
            'CLI_USAGE',
            `topic ${topic} has no partition ${missing.join(', ')} (it has ${offsets.length})`,
          );
      }
      const byTime =
        opts.start && 'timestamp' in opts.start
          ? await admin.fetchTopicOffsetsByTimestamp(topic, opts.start.timestamp)
          : undefined;
      for (const o of offsets) {
        if (opts.partitions && !opts.partitions.includes(o.partition)) continue;
        const low = BigInt(o.low);
        const high = BigInt(o.high);
        let start = low;
        const s = opts.start;
        if (s && 'offset' in s) start = s.offset;
        else if (s && 'last' in s) start = high - BigInt(s.last);
        else if (byTime) start = BigInt(byTime.find((b) => b.partition === o.partition)?.offset ?? o.high);
        start = start < low ? low : start > high ? high : start;
        ranges.push({ topic, partition: o.partition, low, high, start });
      }
    }
  } finally {
    await admin.disconnect().catch(() => {});
  }

  const tp = (topic: string, partition: number) => `${topic}\u0000${partition}`;
  const byTp = new Map(ranges.map((r) => [tp(r.topic, r.partition), r]));
  const remaining = new Set(ranges.filter((r) => r.start < r.high).map((r) => tp(r.topic, r.partition)));
  if (remaining.size === 0 || opts.signal?.aborted) return { ranges, stopped: Boolean(opts.signal?.aborted) };

  const position = new Map<string, bigint>();
  const counts = new Map<string, number>();
  let finished = false;
  let stopped = false;
  let settle: (err?: unknown) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => (err === undefined ? resolve() : reject(err));
  });
  const finish = (early: boolean, err?: unknown) => {
    if (finished) return;
    finished = true;
    stopped = early;
    settle(err);
  };
  const retire = (key: string) => {
    remaining.delete(key);
    if (remaining.size === 0) finish(false);
  };
  const advance = (key: string, next: bigint) => {
    const range = byTp.get(key);
    if (!range || !remaining.has(key)) return;
    if (next > (position.get(key) ?? range.start)) position.set(key, next);
    if ((position.get(key) ?? range.start) >= range.high) retire(key);
  };
  const onAbort = () => finish(true);
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const groupId = `${opts.groupPrefix ?? 'sluice-ops'}-${randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, readUncommitted: opts.readUncommitted });
  consumer.on(consumer.events.CRASH, (e) => {
    if (!(e.payload as { restart?: boolean }).restart) finish(true, e.payload.error);
  });
  // Batches that hold only control records or compacted-away offsets never reach eachBatch,
  // but they do move the partition forward.
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    if (!finished) advance(tp(e.payload.topic, e.payload.partition), BigInt(e.payload.lastOffset) + 1n);
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [...new Set(ranges.map((r) => r.topic))], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat, pause }) => {
        const key = tp(batch.topic, batch.partition);
        const range = byTp.get(key);
        if (!range || !remaining.has(key)) {
          pause();
          return;
        }
        for (const m of batch.messages) {
          if (finished || !remaining.has(key)) break;
          const offset = BigInt(m.offset);
          // Offsets before the start (a fetch that raced the seek) or already seen (a restart) are skipped.
          if (offset < (position.get(key) ?? range.start)) continue;
          if (offset >= range.high) {
            advance(key, range.high);
            break;
          }
          let verdict: Awaited<ReturnType<ReadRangeOptions['onRecord']>>;
          try {
            verdict = await opts.onRecord(
              {
                topic: batch.topic,
                partition: batch.partition,
                offset: m.offset,
                timestamp: Number(m.timestamp),
                key: m.key,
                value: m.value,
                headers: m.headers ?? {},
              },
              { heartbeat },
            );
          } catch (err) {
            // Thrown out of eachBatch, kafkajs would fetch the batch again and again: end the read instead.
            finish(true, err);
            break;
          }
          counts.set(key, (counts.get(key) ?? 0) + 1);
          if (verdict === false) {
            advance(key, offset + 1n);
            finish(true);
            break;
          }
          if (verdict === 'skip-topic') {
            for (const r of ranges) if (r.topic === batch.topic) retire(tp(r.topic, r.partition));
            break;
          }
          if (opts.maxPerPartition !== undefined && counts.get(key)! >= opts.maxPerPartition) {
            retire(key);
            break;
          }
          advance(key, offset + 1n);
          if (opts.signal?.aborted) {
            finish(true);
            break;
          }
          await heartbeat();
        }
        if (!remaining.has(key)) pause();
      },
    });
    for (const r of ranges) {
      if (remaining.has(tp(r.topic, r.partition)) && r.start > r.low)
        consumer.seek({ topic: r.topic, partition: r.partition, offset: r.start.toString() });
    }
    await done;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => {});
    await deleteGroup(kafka, groupId);
  }
  return { ranges, stopped };
}

async function deleteGroup(kafka: KafkaClient, groupId: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteGroups([groupId]);
  } catch {
    /* an empty group without offsets expires on its own */
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Header values as UTF-8 strings (repeated headers joined with ", "). */
export function headersAsText(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map((x) => x.toString()).join(', ') : v.toString();
  }
  return out;
}

/**
 * Bytes as printable ASCII: printable characters as they are, `\n` `\r` `\t` `\\` escaped, any
 * other byte as `\xNN`. Long values are cut at `max` bytes with a note of what was left out.
 */
export function printableBytes(bytes: Buffer, max = 256): string {
  let out = '';
  const n = Math.min(bytes.length, max);
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (b === 0x5c) out += '\\\\';
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x0d) out += '\\r';
    else if (b === 0x09) out += '\\t';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  if (bytes.length > max) out += `…(+${bytes.length - max} bytes)`;
  return out;
}

/**
 * Text safe to print on a terminal: C0/C1 control characters, DEL and Unicode direction
 * overrides are shown as `\uXXXX` escapes (JSON escapes C0 itself but lets C1 and bidi through).
 */
export function terminalSafe(text: string): string {
  return text.replace(
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A value that is not decodable Avro: what went wrong, and the bytes shown safely. */
export interface UndecodableValue {
  undecodable: true;
  /** The stable error code, e.g. SLUICE_ERR_SERDE_BAD_MAGIC. */
  error: string;
  message: string;
  bytes: number;
  bytesBase64: string;
  preview: string;
}

export interface InspectedRecord {
  topic: string;
  partition: number;
  offset: string;
  timestamp: number;
  /** The timestamp as ISO 8601 (UTC). */
  time: string;
  key: string | null;
  headers: Record<string, string>;
  /** Writer schema id when the value is Avro in the Confluent wire format. */
  schemaId?: number;
  /** The decoded value; null for a tombstone; an UndecodableValue otherwise. */
  value: unknown;
}

/** Decodes one value for display: Avro through the registry when it can, safe bytes when not. */
export async function decodeForDisplay(
  serde: AvroSerde,
  value: Buffer | null,
  coords: { topic: string; partition: number; offset: string },
): Promise<{ value: unknown; schemaId?: number }> {
  if (value === null) return { value: null };
  try {
    const decoded = await serde.decode(value, coords);
    return { value: jsonSafe(decoded.value), schemaId: decoded.schemaId };
  } catch (err) {
    if (!isSluiceError(err) || !(err.shortCode.startsWith('SERDE_') || err.shortCode.startsWith('REGISTRY_')))
      throw err;
    const undecodable: UndecodableValue = {
      undecodable: true,
      error: err.code,
      message: err.message,
      bytes: value.length,
      bytesBase64: value.toString('base64'),
      preview: printableBytes(value),
    };
    return { value: undecodable, schemaId: err.details?.schemaId as number | undefined };
  }
}

/** Avro values as plain JSON data: bytes as base64, 64-bit integers as strings. */
function jsonSafe(v: unknown): unknown {
  if (v === null || v === undefined) return v ?? null;
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return { bytesBase64: v.toString('base64') };
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (typeof v === 'object' && !(v instanceof Date))
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, jsonSafe(x)]));
  return v;
}

export interface InspectOptions {
  topic: string;
  /** From the first record still in the log. */
  fromBeginning?: boolean;
  /** From this offset in every selected partition. */
  offset?: bigint | number | string;
  /** From the first record at or after this time (epoch ms), found with the broker's time index. */
  since?: number;
  /** At most this many records (default 20). Without a start option, the newest `limit` records. */
  limit?: number;
  partition?: number;
  /** Show records of open and aborted transactions too (exactly-once topics; default: committed only). */
  readUncommitted?: boolean;
  signal?: AbortSignal;
}

/**
 * Reads up to `limit` records and decodes them. With a start option the result is the earliest
 * `limit` records from there (by timestamp across partitions); without one, the newest `limit`.
 */
export async function inspectTopic(cfg: Config, opts: InspectOptions): Promise<InspectedRecord[]> {
  const limit = opts.limit ?? 20;
  if (!Number.isInteger(limit) || limit < 1)
    throw new SluiceError('CLI_USAGE', `--limit must be a positive integer, not ${opts.limit}`);
  const starts = [opts.fromBeginning, opts.offset !== undefined, opts.since !== undefined].filter(Boolean).length;
  if (starts > 1) throw new SluiceError('CLI_USAGE', 'choose one of --from-beginning, --offset and --since');
  const start: ReadStart = opts.fromBeginning
    ? { earliest: true }
    : opts.offset !== undefined
      ? { offset: BigInt(opts.offset) }
      : opts.since !== undefined
        ? { timestamp: opts.since }
        : { last: limit };
  const kafka = createKafkaClient(cfg, `${cfg.kafkaClientId}-inspect`, { retries: 3 });
  const serde = createAvroSerde(createRegistryClient(cfg), { maxMessageBytes: cfg.maxMessageBytes });
  const raw: RawRecord[] = [];
  await readTopicRange(kafka, opts.topic, {
    partitions: opts.partition === undefined ? undefined : [opts.partition],
    start,
    maxPerPartition: limit,
    signal: opts.signal,
    groupPrefix: 'sluice-inspect',
    readUncommitted: opts.readUncommitted,
    onRecord: (r) => {
      raw.push(r);
    },
  });
  // Each partition contributed at most `limit`; keep the earliest (or, tailing, the newest) overall.
  raw.sort(
    (a, b) => a.timestamp - b.timestamp || a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)),
  );
  const chosen = 'last' in start ? raw.slice(-limit) : raw.slice(0, limit);
  const out: InspectedRecord[] = [];
  for (const r of chosen) {
    const { value, schemaId } = await decodeForDisplay(serde, r.value, r);
    out.push({
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      timestamp: r.timestamp,
      time: Number.isFinite(r.timestamp) ? new Date(r.timestamp).toISOString() : '',
      key: r.key === null ? null : r.key.toString('utf8'),
      headers: headersAsText(r.headers),
      ...(schemaId === undefined ? {} : { schemaId }),
      value,
    });
  }
  return out;
}

/**
 * A time option: epoch milliseconds, an ISO 8601 date-time, or a duration ago (`15m`, `2h`, `1d`).
 */
export function parseTime(text: string, now = Date.now()): number {
  const t = text.trim();
  if (/^\d{10,}$/.test(t)) return Number(t);
  const ago = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)(?:\s*ago)?$/i.exec(t);
  if (ago) {
    const unit = ago[2].toLowerCase();
    const factor =
      unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : unit === 'h' ? 3_600_000 : 86_400_000;
    return now - Math.round(Number(ago[1]) * factor);
  }
  const ms = Date.parse(t);
  if (Number.isNaN(ms))
    throw new SluiceError(
      'CLI_USAGE',
      `"${text}" is not a time: use epoch milliseconds, an ISO date-time (2026-05-01T12:00:00Z) or a duration ago (15m, 2h)`,
    );
  return ms;
}
