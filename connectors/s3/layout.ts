import type { S3Format, S3Zone } from './config.ts';

/**
 * The lake layout (SPEC §7): `<zone>/<topic>/dt=YYYY-MM-DD/hour=HH/<topic>+<partition>+<startOffset>.<ext>`.
 * Topic, partition and start offset are the source record's; dt/hour come from the Kafka
 * timestamp (UTC) of an object's first record. Pure functions: the sink, the tests and the chaos
 * checker name and read objects with the same code.
 */

/** One hour in milliseconds: the span of one `hour=HH` directory. */
export const HOUR_MS = 3_600_000;

/** Latest instant with a four-digit year (9999-12-31T23:59:59.999Z). */
const MAX_EVENT_TIME = 253_402_300_799_999;

/** The event time the layout uses: absent (negative) or non-finite timestamps count as 0, absurd ones are capped. */
export function layoutTime(timestampMs: number): number {
  return Number.isFinite(timestampMs) ? Math.min(MAX_EVENT_TIME, Math.max(0, Math.floor(timestampMs))) : 0;
}

/** `dt`/`hour` partition values of an event time (UTC); see `layoutTime` for odd timestamps. */
export function hourPartition(timestampMs: number): { dt: string; hour: string } {
  const iso = new Date(layoutTime(timestampMs)).toISOString();
  return { dt: iso.slice(0, 10), hour: iso.slice(11, 13) };
}

/** The file extension of an object format (`avro`, `jsonl.gz`, `parquet`): the format's own name. */
export function extensionOf(format: S3Format): string {
  return format;
}

/** `<zone>/<topic>/dt=YYYY-MM-DD/hour=HH`: the directory of an object whose first record has this timestamp. */
export function partitionDir(zone: S3Zone, topic: string, timestampMs: number): string {
  const { dt, hour } = hourPartition(timestampMs);
  return `${zone}/${topic}/dt=${dt}/hour=${hour}`;
}

/** The object key of a batch: `<zone>/<topic>/dt=…/hour=…/<topic>+<partition>+<startOffset>.<ext>`. */
export function objectKey(args: {
  zone: S3Zone;
  topic: string;
  partition: number;
  startOffset: bigint | string;
  timestamp: number;
  format: S3Format;
}): string {
  const dir = partitionDir(args.zone, args.topic, args.timestamp);
  return `${dir}/${args.topic}+${args.partition}+${args.startOffset}.${extensionOf(args.format)}`;
}

/** Prefix of every object of one topic-partition in one hour directory (for listing). */
export function objectKeyPrefix(dir: string, topic: string, partition: number): string {
  return `${dir}/${topic}+${partition}+`;
}

/** The parts of a lake object key, as `parseObjectKey` reads them. */
export interface ParsedObjectKey {
  zone: S3Zone;
  topic: string;
  dt: string;
  hour: string;
  partition: number;
  startOffset: bigint;
  format: S3Format;
}

const KEY_PATTERN = new RegExp(
  String.raw`^(raw|staging|quarantine)/([^/+]+)/dt=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/` +
    String.raw`([^/+]+)\+(\d+)\+(\d+)\.(avro|jsonl\.gz|parquet)$`,
);

/**
 * The parts of a lake object key; undefined for anything that does not follow the layout.
 *
 * @example parseObjectKey('raw/oltp.orders/dt=2026-03-07/hour=09/oltp.orders+2+1200.avro')?.startOffset // 1200n
 */
export function parseObjectKey(key: string): ParsedObjectKey | undefined {
  const m = KEY_PATTERN.exec(key);
  if (!m || m[2] !== m[5]) return undefined;
  return {
    zone: m[1] as S3Zone,
    topic: m[2],
    dt: m[3],
    hour: m[4],
    partition: Number(m[6]),
    startOffset: BigInt(m[7]),
    format: m[8] as S3Format,
  };
}
