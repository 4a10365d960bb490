import { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import avro from 'avsc';
import pg from 'pg';
import { layerSchemas, WAREHOUSE_ENTITIES } from '../../src/shop/warehouseModel.ts';
import { parseObjectKey, type ParsedObjectKey } from '../../connectors/s3/layout.ts';
import { pgConnection, type Config } from '../../src/config/config.ts';
import type { KafkaClient } from '../../src/kafka/createKafkaClient.ts';
import { OLTP_PRIMARY_KEYS, OLTP_TABLES, type OltpTable } from '../../src/shop/oltp/oltpDdl.ts';
import { createS3Client } from '../../src/s3/s3Client.ts';
import { forSchema } from '../../src/serde/logicalTypes.ts';
import { LAKE_QUARANTINE_TOPICS, LAKE_RAW_TOPICS, LAKE_STAGING_TOPICS } from '../../topologies/lake.ts';
import { DLQ_SOURCES, REPARTITION_TOPIC } from '../../topologies/metrics.ts';
import { readTopics, type TopicRead } from './topicReader.ts';

/**
 * Everything the checks look at, read once after the drain: the topics (read_committed), the
 * shop database's final rows, the warehouse tables and the lake objects.
 */

export const METRIC_TOPICS = [
  'metrics.funnel_5m',
  'metrics.revenue_per_minute',
  'metrics.orders_per_minute',
  'metrics.active_sessions',
  'metrics.dlq_per_minute',
] as const;
export const LATE_TOPIC = 'metrics.late';
/** Where records that a later stage could not take go (counted, not read). */
export const ERROR_TOPICS = [
  ...WAREHOUSE_ENTITIES.map((e) => `${e.topic}.warehouse-errors`),
  ...[...LAKE_RAW_TOPICS, ...LAKE_STAGING_TOPICS, ...LAKE_QUARANTINE_TOPICS].map((t) => `${t}.lake-errors`),
  ...DLQ_SOURCES.map((t) => `${t}.metrics-errors`),
  'sluice.metrics.repartition.errors',
];

export interface FinalRow {
  key: string;
  updatedAt: number;
  fields: Record<string, unknown>;
}

export interface LakeObject extends ParsedObjectKey {
  key: string;
  records: number;
  /** Offsets of the records (raw and quarantine zones: each record carries its own). */
  offsets?: number[];
  firstOffset?: number;
  lastOffset?: number;
  error?: string;
}

export interface WarehouseEntityState {
  entity: string;
  bronzeRows: number;
  bronzeDistinctOffsets: number;
  silverRows: number;
  /** key → updated_at (epoch ms) of the silver table. */
  silverUpdatedAt: Map<string, number>;
  gold?: { table: string; rows: number; keys: number; currentRows?: number };
  error?: string;
}

export interface Snapshot {
  read: TopicRead;
  errorTopicCounts: Record<string, number>;
  oltpFinal: Record<OltpTable, FinalRow[]>;
  warehouse: WarehouseEntityState[];
  lake: LakeObject[];
  timingsMs: Record<string, number>;
}

export async function collectSnapshot(cfg: Config, kafka: KafkaClient, say: (l: string) => void): Promise<Snapshot> {
  const timingsMs: Record<string, number> = {};
  let t0 = Date.now();
  // The repartition topic only to tell whether the metrics runner consumed all of it.
  const topics = [
    ...LAKE_RAW_TOPICS,
    ...LAKE_QUARANTINE_TOPICS,
    ...LAKE_STAGING_TOPICS,
    ...METRIC_TOPICS,
    LATE_TOPIC,
    REPARTITION_TOPIC,
  ];
  const read = await readTopics(kafka, topics);
  timingsMs.readTopics = Date.now() - t0;
  const n = [...read.records.values()].reduce((a, r) => a + r.length, 0);
  say(
    `read ${n.toLocaleString('en')} records of ${topics.length} topics in ${(timingsMs.readTopics / 1000).toFixed(1)}s${read.incomplete.length ? `; INCOMPLETE: ${read.incomplete.map((i) => `${i.topic}/${i.partition} at ${i.reached} of ${i.high}`).join(', ')}` : ''}`,
  );
  const errorTopicCounts = await countRecords(kafka, ERROR_TOPICS);

  t0 = Date.now();
  const oltpFinal = await readOltpFinal(cfg);
  const warehouse = await readWarehouse(cfg);
  timingsMs.readDatabases = Date.now() - t0;

  t0 = Date.now();
  const s3 = createS3Client(cfg);
  let lake: LakeObject[];
  try {
    lake = await readLake(s3, cfg.s3Bucket);
  } finally {
    s3.destroy();
  }
  timingsMs.readLake = Date.now() - t0;
  say(
    `read ${lake.length} lake objects in ${(timingsMs.readLake / 1000).toFixed(1)}s, the shop and the warehouse in ${(timingsMs.readDatabases / 1000).toFixed(1)}s`,
  );
  return { read, errorTopicCounts, oltpFinal, warehouse, lake, timingsMs };
}

/** Records per topic by offsets (high − low): error topics are only counted. */
async function countRecords(kafka: KafkaClient, topics: string[]): Promise<Record<string, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const out: Record<string, number> = {};
    for (const t of topics.filter((x) => existing.has(x))) {
      const n = (await admin.fetchTopicOffsets(t)).reduce((a, p) => a + Number(p.high) - Number(p.low), 0);
      if (n) out[t] = n;
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}

/** The shop's rows as they are at the end (what the last extract must have published). */
async function readOltpFinal(cfg: Config): Promise<Record<OltpTable, FinalRow[]>> {
  const client = new pg.Client(pgConnection(cfg, cfg.oltpDatabase));
  await client.connect();
  try {
    const out = {} as Record<OltpTable, FinalRow[]>;
    for (const table of OLTP_TABLES) {
      const pk = OLTP_PRIMARY_KEYS[table];
      const { rows } = await client.query(
        `select *, ${pk}::text as _key, floor(extract(epoch from updated_at) * 1000)::bigint::text as _updated from ${table}`,
      );
      out[table] = rows.map((r) => ({ key: r._key as string, updatedAt: Number(r._updated), fields: r }));
    }
    return out;
  } finally {
    await client.end();
  }
}

const GOLD: Record<string, { table: string; key: string; current?: boolean }> = {
  customers: { table: 'dim_customers', key: 'customer_key', current: true },
  products: { table: 'dim_products', key: 'product_key' },
  orders: { table: 'fact_orders', key: 'order_id' },
  order_items: { table: 'fact_order_items', key: 'order_item_id' },
};

async function readWarehouse(cfg: Config): Promise<WarehouseEntityState[]> {
  const s = layerSchemas();
  const client = new pg.Client(pgConnection(cfg, cfg.warehouseDatabase));
  await client.connect();
  const out: WarehouseEntityState[] = [];
  try {
    for (const e of WAREHOUSE_ENTITIES) {
      const state: WarehouseEntityState = {
        entity: e.entity,
        bronzeRows: 0,
        bronzeDistinctOffsets: 0,
        silverRows: 0,
        silverUpdatedAt: new Map(),
      };
      try {
        const b = (
          await client.query(
            `select count(*)::int as n, count(distinct ("_partition", "_offset"))::int as d from "${s.bronze}"."${e.entity}"`,
          )
        ).rows[0];
        state.bronzeRows = b.n;
        state.bronzeDistinctOffsets = b.d;
        const silver = await client.query(
          `select "${e.key}"::text as k, floor(extract(epoch from updated_at) * 1000)::bigint::text as u from "${s.silver}"."${e.entity}"`,
        );
        state.silverRows = silver.rowCount ?? 0;
        for (const r of silver.rows) state.silverUpdatedAt.set(r.k, Number(r.u));
        const g = GOLD[e.entity];
        const gold = (
          await client.query(
            `select count(*)::int as n, count(distinct "${g.key}")::int as k${g.current ? ', count(*) filter (where is_current)::int as c' : ''} from "${s.gold}"."${g.table}"`,
          )
        ).rows[0];
        state.gold = {
          table: `gold.${g.table}`,
          rows: gold.n,
          keys: gold.k,
          ...(g.current ? { currentRows: gold.c } : {}),
        };
      } catch (err) {
        state.error = (err as Error).message;
      }
      out.push(state);
    }
  } finally {
    await client.end();
  }
  return out;
}

async function listKeys(s3: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of res.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function decodeContainer(body: Buffer): Promise<unknown[]> {
  const records: unknown[] = [];
  await new Promise<void>((resolve, reject) => {
    Readable.from([body])
      .pipe(new avro.streams.BlockDecoder({ parseHook: (schema: avro.Schema) => forSchema(schema) }))
      .on('data', (r: unknown) => records.push(r))
      .on('end', resolve)
      .on('error', reject);
  });
  return records;
}

/** Every lake object: its name's coordinates, its records (offsets where they carry them), its offset metadata. */
async function readLake(s3: S3Client, bucket: string): Promise<LakeObject[]> {
  const keys = await listKeys(s3, bucket);
  const out: LakeObject[] = [];
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++];
      const parsed = parseObjectKey(key);
      if (!parsed) continue;
      const obj: LakeObject = { ...parsed, key, records: 0 };
      try {
        const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const meta = res.Metadata ?? {};
        if (meta['sluice-first-offset'] !== undefined) obj.firstOffset = Number(meta['sluice-first-offset']);
        if (meta['sluice-last-offset'] !== undefined) obj.lastOffset = Number(meta['sluice-last-offset']);
        const body = Buffer.from(await res.Body!.transformToByteArray());
        if (parsed.format !== 'avro') throw new Error('only Avro container objects are checked');
        const records = await decodeContainer(body);
        obj.records = records.length;
        if (parsed.zone !== 'staging') obj.offsets = (records as { offset: number }[]).map((r) => Number(r.offset));
      } catch (err) {
        obj.error = (err as Error).message;
      }
      out.push(obj);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return out;
}
