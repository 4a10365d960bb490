import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import pg from 'pg';
import { pgConnection, type Config } from '../../config/config.ts';
import { createLogger } from '../../core/log.ts';
import { generateClickstream } from '../generate/clickstreamGenerator.ts';
import { runOltpActivity } from '../generate/oltp/runOltpActivity.ts';
import { seedOltp } from '../generate/oltp/seedOltp.ts';
import { createKafkaClient } from '../../kafka/createKafkaClient.ts';
import { retryKafka } from '../../kafka/retryKafka.ts';
import { startRunnerProcess } from '../../runner/runnerProcess.ts';
import { createS3Client } from '../../s3/s3Client.ts';
import { extractOnce } from '../../../connectors/postgres/extract/source.ts';
import { startExtractSchedule } from '../../../connectors/postgres/extract/schedule.ts';
import { TOPOLOGIES } from '../../../topologies/index.ts';

/**
 * `sluice demo`: the whole flow on the local stack. Seeds the shop database (once), keeps the
 * shop and the web clickstream alive, extracts the database into Kafka on a short schedule, runs
 * every topology (validation → silver/DLQ, metrics windows, lake, warehouse) with the dashboard,
 * prints where everything is and, at the end, what landed where.
 */
export interface DemoOptions {
  durationMs: number;
  clicksPerSecond: number;
  oltpChangesPerSecond: number;
  badRatio: number;
  extractEveryMs: number;
}

const log = createLogger('demo');

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

async function topicCounts(cfg: Config): Promise<Record<string, number>> {
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

async function lakeCounts(cfg: Config): Promise<Record<string, number>> {
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

async function warehouseCounts(cfg: Config): Promise<Record<string, number>> {
  const client = new pg.Client(pgConnection(cfg, cfg.warehouseDatabase));
  await client.connect();
  try {
    const { rows } = await client.query(`select table_schema || '.' || table_name as t from information_schema.tables
      where table_schema in ('bronze', 'silver', 'gold') and table_type = 'BASE TABLE' order by 1`);
    const out: Record<string, number> = {};
    for (const { t } of rows)
      out[t] = Number(
        (
          await client.query(
            `select count(*) as n from ${t
              .split('.')
              .map((p: string) => `"${p}"`)
              .join('.')}`,
          )
        ).rows[0].n,
      );
    return out;
  } finally {
    await client.end();
  }
}

async function oltpIsSeeded(cfg: Config): Promise<boolean> {
  const client = new pg.Client(pgConnection(cfg, cfg.oltpDatabase));
  await client.connect();
  try {
    const { rows } = await client.query(`select to_regclass('public.orders') is not null as present`);
    if (!rows[0].present) return false;
    return Number((await client.query('select count(*) as n from orders')).rows[0].n) > 0;
  } finally {
    await client.end();
  }
}

export async function runDemo(cfg: Config, opts: DemoOptions, say: (line: string) => void): Promise<void> {
  if (!(await oltpIsSeeded(cfg))) {
    const seeded = await seedOltp(cfg, { customers: 2000, products: 200, orders: 5000, seed: 'demo', progress: false });
    say(
      `seeded ${cfg.oltpDatabase}: ${seeded.customers} customers, ${seeded.products} products, ${seeded.orders} orders`,
    );
  } else say(`${cfg.oltpDatabase} already seeded; reusing it`);

  // The clickstream topology checks each click's product against the oltp.products table, which
  // the runner reads to its end before consuming: the catalogue must be in Kafka before the
  // runner and the clicks start, or valid clicks are dead-lettered as unknown products.
  const first = await extractOnce(cfg, {});
  say(
    `extracted ${cfg.oltpDatabase} into Kafka: ${Object.values(first.tables)
      .map((t) => `${t.rows} ${t.table}`)
      .join(', ')}`,
  );

  const proc = await startRunnerProcess(cfg, Object.values(TOPOLOGIES), { commitIntervalMs: 1000 });
  const extract = startExtractSchedule(cfg, { intervalMs: opts.extractEveryMs, initialDelayMs: opts.extractEveryMs });
  const abort = new AbortController();
  const stopOn = () => abort.abort();
  let timer: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let ended: { code: number };
  try {
    say('');
    say(`dashboard      ${proc.url}/            (live feed ${proc.url.replace('http', 'ws')}/ws)`);
    say(`metrics        ${proc.url}/metrics     readiness ${proc.url}/readyz`);
    say(
      `kafka          ${cfg.kafkaBrokers}  topics: oltp.* web.clickstream silver.* *.dlq metrics.* (sluice topics, sluice inspect TOPIC)`,
    );
    say(`registry       ${cfg.registryUrl}`);
    say(`S3 lake        s3://${cfg.s3Bucket}/{raw,staging,quarantine}/  at ${cfg.s3Endpoint}`);
    say(
      `warehouse      postgres://${cfg.pgUser}@${cfg.pgHost}:${cfg.pgPort}/${cfg.warehouseDatabase}  schemas bronze, silver, gold`,
    );
    say(`topologies     ${proc.runners.map((r) => r.def.name).join(', ')}`);
    say(`running for ${opts.durationMs ? `${Math.round(opts.durationMs / 1000)}s` : 'ever'} (Ctrl-C stops cleanly)`);
    say('');

    process.once('SIGINT', stopOn);
    process.once('SIGTERM', stopOn);
    timer = opts.durationMs ? setTimeout(stopOn, opts.durationMs) : undefined;
    ticker = setInterval(() => {
      void topicCounts(cfg)
        .then((c) =>
          say(
            `… in ${c['web.clickstream'] ?? 0} clicks, ${(c['oltp.orders'] ?? 0) + (c['oltp.order_items'] ?? 0)} order rows │ silver ${c['silver.clickstream'] ?? 0} clicks, ${c['silver.orders'] ?? 0} orders │ dlq ${(c['web.clickstream.dlq'] ?? 0) + (c['oltp.orders.dlq'] ?? 0) + (c['oltp.customers.dlq'] ?? 0) + (c['oltp.order_items.dlq'] ?? 0)} │ metric updates ${(c['metrics.funnel_5m'] ?? 0) + (c['metrics.revenue_per_minute'] ?? 0)}`,
          ),
        )
        .catch(() => {});
    }, 10_000);

    const generators = Promise.allSettled([
      generateClickstream(cfg, {
        rate: opts.clicksPerSecond,
        badRatio: opts.badRatio,
        seed: `demo-${Date.now()}`,
        signal: abort.signal,
        progress: false,
        print: false,
      } as never),
      runOltpActivity(cfg, {
        rate: opts.oltpChangesPerSecond,
        badRatio: opts.badRatio,
        seed: `demo-${Date.now()}`,
        signal: abort.signal,
        progress: false,
      }),
    ]);
    ended = await Promise.race([proc.done.then((code) => ({ code })), generators.then(() => ({ code: 0 }))]);
    clearTimeout(timer);
    clearInterval(ticker);
    abort.abort();
    const results = await generators;
    for (const r of results) if (r.status === 'rejected') log.error({ err: String(r.reason) }, 'generator failed');
    say('stopping: last extract, drain, flush, commit…');
    await extract.runNow().catch(() => {});
    await extract.stop();
    await new Promise((r) => setTimeout(r, 3000)); // let the last extract flow through the topologies
  } finally {
    // Whatever failed above, nothing this demo started keeps running (stop() is idempotent).
    clearTimeout(timer);
    clearInterval(ticker);
    abort.abort();
    process.removeListener('SIGINT', stopOn);
    process.removeListener('SIGTERM', stopOn);
    await extract.stop().catch(() => {});
    await proc.stop().catch(() => {});
  }

  say('');
  say('== what went where');
  const counts = await topicCounts(cfg);
  for (const [t, n] of Object.entries(counts)) say(`  kafka ${t.padEnd(30)} ${n}`);
  for (const [zone, n] of Object.entries(await lakeCounts(cfg).catch(() => ({}))))
    say(`  s3://${cfg.s3Bucket}/${zone}/`.padEnd(40) + ` ${n} objects`);
  for (const [t, n] of Object.entries(await warehouseCounts(cfg).catch(() => ({}))))
    say(`  warehouse ${t.padEnd(26)} ${n} rows`);
  if (ended.code !== 0) throw new Error(`the runner stopped with exit code ${ended.code}`);
}
