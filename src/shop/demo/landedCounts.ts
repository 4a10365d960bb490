import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import pg from 'pg';
import { pgConnection, type Config } from '../../config/config.ts';
import { createKafkaClient } from '../../kafka/createKafkaClient.ts';
import { retryKafka } from '../../kafka/retryKafka.ts';
import { createS3Client } from '../../s3/s3Client.ts';

/** What landed where during the demo: records per topic, objects per lake zone, rows per warehouse table. */

const WATCHED_TOPICS = [
  'oltp.customers',
  'oltp.products',
  'oltp.orders',
  'oltp.order_items',
  'web.clickstream',
  'silver.customers',
  'silver.products',
  'silver.orders',
  'silver.order_items',
  'silver.clickstream',
  'oltp.customers.dlq',
  'oltp.orders.dlq',
  'oltp.order_items.dlq',
  'web.clickstream.dlq',
  'metrics.late',
  'metrics.revenue_per_minute',
  'metrics.orders_per_minute',
  'metrics.funnel_5m',
  'metrics.active_sessions',
  'metrics.dlq_per_minute',
];

/** Records in each of the demo's topics that exists (end minus start offsets). */
export async function topicCounts(cfg: Config): Promise<Record<string, number>> {
  const admin = createKafkaClient(cfg, 'sluice-demo-admin').admin();
  await retryKafka(() => admin.connect(), 'connecting the demo admin');
  try {
    const existing = new Set(await retryKafka(() => admin.listTopics(), 'listing topics'));
    const out: Record<string, number> = {};
    for (const t of WATCHED_TOPICS.filter((x) => existing.has(x))) {
      // The runner creates some of these topics while the demo counts: a fresh one answers
      // NOT_LEADER_FOR_PARTITION for a moment, which is no reason to fail the demo.
      out[t] = (await retryKafka(() => admin.fetchTopicOffsets(t), `end offsets of ${t}`)).reduce(
        (n, p) => n + Number(p.high) - Number(p.low),
        0,
      );
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}

/** Objects under each zone of the lake bucket. */
export async function lakeCounts(cfg: Config): Promise<Record<string, number>> {
  const s3 = createS3Client(cfg);
  const out: Record<string, number> = {};
  try {
    for (const zone of ['raw', 'staging', 'quarantine']) {
      let token: string | undefined;
      let n = 0;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({ Bucket: cfg.s3Bucket, Prefix: `${zone}/`, ContinuationToken: token }),
        );
        n += page.KeyCount ?? 0;
        token = page.NextContinuationToken;
      } while (token);
      out[zone] = n;
    }
  } finally {
    s3.destroy();
  }
  return out;
}

/** Rows in every table of the warehouse's bronze, silver and gold schemas. */
export async function warehouseCounts(cfg: Config): Promise<Record<string, number>> {
  const client = new pg.Client(pgConnection(cfg, cfg.warehouseDatabase));
  await client.connect();
  try {
    const { rows } = await client.query(`select table_schema || '.' || table_name as t from information_schema.tables
      where table_schema in ('bronze', 'silver', 'gold') and table_type = 'BASE TABLE' order by 1`);
    const out: Record<string, number> = {};
    for (const { t } of rows) {
      const quoted = t
        .split('.')
        .map((p: string) => `"${p}"`)
        .join('.');
      out[t] = Number((await client.query(`select count(*) as n from ${quoted}`)).rows[0].n);
    }
    return out;
  } finally {
    await client.end();
  }
}
