import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { type Incident, incidentKey } from '../../../src/alerts/incident.ts';
import { type Config, PROJECT_ROOT, pgConnection } from '../../../src/config/config.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import { dlqHeaders } from '../../../src/engine/dlqHeaders.ts';
import { createKafkaClient, type KafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { ensureMarts } from '../../../src/shop/warehouseMarts.ts';
import { layerSchemas } from '../../../src/shop/warehouseModel.ts';
import { createMetricTopic, type MetricTopic, result } from '../feed/feedTestKit.ts';
import { eventually, uniqueName } from '../../support/stack.ts';

/**
 * What the MCP tests read through the server, made for one run and isolated by a prefix: a gold
 * schema with the daily revenue mart, a metric topic with window results, a DLQ with a rule
 * failure (carrying an email) and undecodable bytes, and an incidents topic with an open incident.
 */

export interface McpFixture {
  prefix: string;
  gold: string;
  reader: string;
  admin: pg.Client;
  kafka: KafkaClient;
  metric: MetricTopic;
  /** Window starts of the three metric windows, oldest first. */
  windows: number[];
  dlq: string;
  dlqSource: string;
  incidentsTopic: string;
  incident: Incident;
  today: string;
  yesterday: string;
  /** The environment `sluice mcp` runs with to read all of this. */
  env: Record<string, string>;
  close(): Promise<void>;
}

const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

async function seedMart(admin: pg.Client, gold: string, today: string, yesterday: string): Promise<void> {
  await ensureMarts(admin, gold);
  await admin.query(
    `insert into ${admin.escapeIdentifier(gold)}.mart_revenue_daily
       (order_date, category, revenue, orders, avg_order_value)
     values ($1, 'books', 120.50, 3, 40.17), ($1, 'games', 999.99, 1, 999.99), ($1, 'toys', 0.10, 1, 0.10),
            ($2, 'books', 10.00, 1, 10.00)`,
    [today, yesterday],
  );
}

async function seedDlq(cfg: Config, kafka: KafkaClient, source: string, dlq: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic: dlq, partitions: 1 }], { partitions: 1, replicationFactor: 1 });
  await admin.disconnect();
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const id = await registry.register('oltp.customers-value', loadSchema('oltp.customers'));
  const customer = (i: number, email: string) =>
    serde.encode(id, {
      customer_id: i,
      email,
      full_name: `C ${i}`,
      country: 'XX',
      created_at: 1,
      updated_at: 2,
      op: 'c',
      extracted_at: 3,
    });
  const now = Date.now() - 10_000;
  const src = (offset: number) => ({
    topic: source,
    partition: 1,
    offset: String(offset),
    key: null,
    value: null,
    headers: {},
    timestamp: now,
  });
  const headers = (reason: 'rule' | 'deserialize', offset: number, message: string, rule?: string) =>
    dlqHeaders({ source: src(offset), topology: 'customers', reason, rule, message, now: now + offset });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic: dlq,
    acks: -1,
    messages: [
      {
        key: '7',
        value: await customer(7, 'ann@shop.test'),
        headers: headers('rule', 7, 'country not known', 'country_known'),
      },
      {
        key: '8',
        value: await customer(8, 'bob@shop.test'),
        headers: headers('rule', 8, 'country not known', 'country_known'),
      },
      {
        key: '9',
        value: Buffer.from('not avro: carol@shop.test'),
        headers: headers('deserialize', 9, 'bad magic byte'),
      },
    ],
  });
  await producer.disconnect();
}

async function seedIncident(kafka: KafkaClient, topic: string): Promise<Incident> {
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, partitions: 1, compacted: true }], { partitions: 1, replicationFactor: 1 });
  await admin.disconnect();
  const now = new Date(Date.now() - 60_000).toISOString();
  const subject = 'oltp.orders';
  const incident: Incident = {
    key: incidentKey('freshness_breach', subject),
    id: 'it-1',
    rule: 'freshness_breach',
    subject,
    status: 'open',
    severity: 'critical',
    summary: 'oltp.orders is 45 min old (breach after 30 min)',
    startedAt: now,
    updatedAt: now,
    resolvedAt: null,
    evidence: { ageSeconds: 2700 },
    dashboardUrl: 'http://127.0.0.1:8080/#incidents',
    revision: 1,
  };
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [{ key: incident.key, value: JSON.stringify(incident) }] });
  await producer.disconnect();
  return incident;
}

/** Creates everything (about 2 s on the local stack). */
export async function createMcpFixture(cfg: Config): Promise<McpFixture> {
  const prefix = uniqueName('it_mcp');
  const gold = layerSchemas(prefix).gold;
  const reader = `${prefix}_reader`;
  const [today, yesterday] = [day(0), day(-1)];
  const admin = new pg.Client(pgConnection(cfg, cfg.warehouseDatabase));
  await admin.connect();
  await seedMart(admin, gold, today, yesterday);
  const kafka = createKafkaClient(cfg, 'it-mcp');
  const metric = await createMetricTopic(cfg, { prefix: 'it_mcp' });
  const base = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
  const windows = [base, base + 60_000, base + 120_000];
  await metric.produce([
    ...windows.flatMap((w, i) => [result(w, 'books', 10 + i, true), result(w, 'games', 20 + i, true)]),
    // The newest window: provisional first, then its final result (the one to show).
    result(windows[2], 'books', 99, false),
    result(windows[2], 'books', 100, true),
  ]);
  const dlqSource = `${prefix}.oltp.customers`;
  const dlq = `${dlqSource}.dlq`;
  await seedDlq(cfg, kafka, dlqSource, dlq);
  const incidentsTopic = `${prefix}.incidents`;
  const incident = await seedIncident(kafka, incidentsTopic);
  return {
    prefix,
    gold,
    reader,
    admin,
    kafka,
    metric,
    windows,
    dlq,
    dlqSource,
    incidentsTopic,
    incident,
    today,
    yesterday,
    env: {
      SLUICE_MCP_SCHEMA_PREFIX: prefix,
      SLUICE_MCP_READER_USER: reader,
      SLUICE_MCP_STATEMENT_TIMEOUT_MS: '1000',
      SLUICE_MCP_MAX_ROWS: '5',
      SLUICE_INCIDENTS_TOPIC: incidentsTopic,
    },
    async close() {
      await admin.query(`drop schema if exists ${admin.escapeIdentifier(gold)} cascade`).catch(() => {});
      await admin.query(`drop owned by ${admin.escapeIdentifier(reader)}`).catch(() => {});
      await admin.query(`drop role if exists ${admin.escapeIdentifier(reader)}`).catch(() => {});
      await admin.end();
      const ka = kafka.admin();
      await ka.connect();
      await ka.deleteTopics({ topics: [dlq, incidentsTopic] }).catch(() => {});
      await ka.disconnect();
      await metric.close();
    },
  };
}

/** `sluice mcp --http --port 0` with `env`; resolves with its URL once it listens. */
export async function startHttpServer(
  env: Record<string, string>,
): Promise<{ url: string; child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'sluice.js'), 'mcp', '--http', '--port', '0'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const url = await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`sluice mcp --http exited ${child.exitCode}: ${stderr}`);
    return /Streamable HTTP at (http:\/\/\S+\/mcp)/.exec(stderr)?.[1];
  }, 'sluice mcp --http to listen');
  return { url, child, stderr: () => stderr };
}

/** Stops a child with SIGTERM and waits for it to exit. */
export async function stopChild(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}
