import type { Config } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { createKafkaClient } from '../kafka/createKafkaClient.ts';
import { createAvroSerde, type AvroSerde } from '../serde/avroSerde.ts';
import { createRegistryClient } from '../serde/schemaRegistry.ts';
import { decodeForDisplay } from './decodeForDisplay.ts';
import { headersAsText } from './headersAsText.ts';
import { maskForDisplay } from './maskForDisplay.ts';
import { readTopicRange, type RawRecord, type ReadStart } from './readTopicRange.ts';
import { writerPiiFields } from './writerPiiFields.ts';

/**
 * `sluice inspect`: a bounded read of one topic, decoded for people. Avro values go through the
 * registry; anything else is shown as escaped text plus base64, never as raw bytes, so a hostile
 * or binary record cannot drive the terminal. Fields the writer schema marks `"sluice.pii"` are
 * shown as `[redacted]` unless `showPii` (the raw zone and DLQs hold original values).
 */

/** One record as `inspect` shows it: coordinates, text key and headers, decoded value. */
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
  /** Fields shown as `[redacted]` because the writer schema marks them as personal data. */
  piiMasked?: string[];
}

/** Which records `inspectTopic` reads. */
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
  /** Show fields marked `"sluice.pii"` as they are (default: `[redacted]`). */
  showPii?: boolean;
  signal?: AbortSignal;
}

/** The start the options ask for (at most one of them), or the newest `limit` records. */
function readStart(opts: InspectOptions, limit: number): ReadStart {
  const starts = [opts.fromBeginning, opts.offset !== undefined, opts.since !== undefined].filter(Boolean).length;
  if (starts > 1) throw new SluiceError('CLI_USAGE', 'choose one of --from-beginning, --offset and --since');
  if (opts.fromBeginning) return { earliest: true };
  if (opts.offset !== undefined) return { offset: BigInt(opts.offset) };
  if (opts.since !== undefined) return { timestamp: opts.since };
  return { last: limit };
}

type MarksOf = (schemaId: number) => Promise<string[]>;

async function inspected(serde: AvroSerde, r: RawRecord, marksOf?: MarksOf): Promise<InspectedRecord> {
  const decoded = await decodeForDisplay(serde, r.value, r);
  const { schemaId } = decoded;
  const undecodable = (decoded.value as { undecodable?: boolean } | null)?.undecodable === true;
  const { value, masked } =
    marksOf && schemaId !== undefined && !undecodable
      ? maskForDisplay(decoded.value, await marksOf(schemaId))
      : { value: decoded.value, masked: [] };
  return {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    time: Number.isFinite(r.timestamp) ? new Date(r.timestamp).toISOString() : '',
    key: r.key === null ? null : r.key.toString('utf8'),
    headers: headersAsText(r.headers),
    ...(schemaId === undefined ? {} : { schemaId }),
    value,
    ...(masked.length ? { piiMasked: masked } : {}),
  };
}

/**
 * Reads up to `limit` records and decodes them. With a start option the result is the earliest
 * `limit` records from there (by timestamp across partitions); without one, the newest `limit`.
 *
 * @example
 *   const records = await inspectTopic(cfg, { topic: 'oltp.orders.dlq', fromBeginning: true, limit: 5 });
 */
export async function inspectTopic(cfg: Config, opts: InspectOptions): Promise<InspectedRecord[]> {
  const limit = opts.limit ?? 20;
  if (!Number.isInteger(limit) || limit < 1)
    throw new SluiceError('CLI_USAGE', `--limit must be a positive integer, not ${opts.limit}`);
  const start = readStart(opts, limit);
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
  const marksOf = opts.showPii ? undefined : writerPiiFields(cfg);
  const out: InspectedRecord[] = [];
  for (const r of chosen) out.push(await inspected(serde, r, marksOf));
  return out;
}
