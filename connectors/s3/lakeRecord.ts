import type avro from 'avsc';
import { forSchema } from '../../src/serde/logicalTypes.ts';
import type { SourceRecord } from '../../src/topology/types.ts';

/** Writer schema of the `raw` and `quarantine` zones: the Kafka record as it was, value untouched. */
export const LAKE_RECORD_SCHEMA = {
  type: 'record',
  name: 'LakeRecord',
  namespace: 'sluice.lake',
  doc: 'A Kafka record as consumed: coordinates, Kafka timestamp, key, the original value bytes, headers.',
  fields: [
    { name: 'topic', type: 'string', doc: 'Source topic.' },
    { name: 'partition', type: 'int', doc: 'Source partition.' },
    { name: 'offset', type: 'long', doc: 'Offset in the source partition.' },
    {
      name: 'timestamp',
      type: { type: 'long', logicalType: 'timestamp-millis' },
      doc: 'Kafka record timestamp (epoch ms); the event time of the lake layout.',
    },
    { name: 'key', type: ['null', 'string'], default: null, doc: 'Record key as UTF-8, null when absent.' },
    {
      name: 'value',
      type: ['null', 'bytes'],
      default: null,
      doc: 'The original value bytes (for Avro topics the Confluent wire format), null for a tombstone.',
    },
    {
      name: 'headers',
      type: { type: 'map', values: 'string' },
      default: {},
      doc: 'Record headers (DLQ records carry sluice.error.* here).',
    },
  ],
} as const;

/** A record of the `raw` and `quarantine` zones (LAKE_RECORD_SCHEMA). */
export interface LakeRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** Full name of LAKE_RECORD_SCHEMA: the writer schema name of the raw and quarantine zones. */
export const RAW_SCHEMA_NAME = `${LAKE_RECORD_SCHEMA.namespace}.${LAKE_RECORD_SCHEMA.name}`;

let cachedLakeRecordType: avro.Type | undefined;
/** The avsc type of LAKE_RECORD_SCHEMA (built on first use). */
export function lakeRecordType(): avro.Type {
  cachedLakeRecordType ??= forSchema(LAKE_RECORD_SCHEMA as unknown as avro.Schema);
  return cachedLakeRecordType;
}

/** The lake record of a consumed Kafka record: key as UTF-8, value bytes untouched. */
export function lakeRecordOf(src: SourceRecord): LakeRecord {
  return {
    topic: src.topic,
    partition: src.partition,
    offset: Number(src.offset),
    timestamp: src.timestamp,
    key: src.key === null ? null : src.key.toString('utf8'),
    value: src.value,
    headers: src.headers ?? {},
  };
}
