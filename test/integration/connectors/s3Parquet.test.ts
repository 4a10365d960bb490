import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { hourPartition, parseObjectKey } from '../../../connectors/s3/layout.ts';
import type { Config } from '../../../src/config/config.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import { createKafkaClient, type KafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { markedFieldNames } from '../../../src/pii/piiFields.ts';
import { startRunnerProcess } from '../../../src/runner/runnerProcess.ts';
import { createS3Client } from '../../../src/s3/s3Client.ts';
import { type AvroSerde, createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { prefixTopology } from '../../../src/testing/prefixTopology.ts';
import { lakeTopology } from '../../../topologies/lake.ts';
import { listLakeKeys } from '../../support/lake.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

/**
 * The Parquet lake read back by a real engine: the lake topology writes silver orders and
 * clickstream events as Parquet, the objects are downloaded and read with DuckDB's
 * `read_parquet`, and every row is compared with the record at the same offset on the topic.
 */

const T0 = Date.UTC(2026, 0, 5, 9, 0);
const PARTITIONS = 3;
const ROLL_RECORDS = 250;

interface TopicValue {
  partition: number;
  offset: bigint;
  timestamp: number;
  value: Record<string, unknown>;
}

async function produce(
  kafka: KafkaClient,
  topic: string,
  messages: { partition: number; key: string; value: Buffer; timestamp: number }[],
) {
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < messages.length; i += 500) {
    await producer.send({
      topic,
      acks: -1,
      messages: messages.slice(i, i + 500).map((m) => ({ ...m, timestamp: String(m.timestamp) })),
    });
  }
  await producer.disconnect();
}

/** Every record of a topic, decoded, by `partition/offset`. */
async function readTopic(
  kafka: KafkaClient,
  serde: AvroSerde,
  topic: string,
  expected: number,
): Promise<Map<string, TopicValue>> {
  const out = new Map<string, TopicValue>();
  const consumer = kafka.consumer({ groupId: uniqueName('it-read') });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let done!: () => void;
  const all = new Promise<void>((r) => {
    done = r;
  });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const { value } = await serde.decode(message.value);
      const rec = {
        partition,
        offset: BigInt(message.offset),
        timestamp: Number(message.timestamp),
        value: value as Record<string, unknown>,
      };
      out.set(`${partition}/${message.offset}`, rec);
      if (out.size >= expected) done();
    },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      all,
      new Promise(
        (_, reject) =>
          (timer = setTimeout(() => reject(new Error(`read ${out.size}/${expected} of ${topic}`)), 60_000)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return out;
}

async function committedEverything(kafka: KafkaClient, groupId: string, topics: string[]): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const topic of topics) {
      const highs = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      for (const p of committed.partitions) {
        const high = highs.get(p.partition) ?? 0n;
        if (high > 0n && (p.offset === '-1' || BigInt(p.offset) < high)) return false;
      }
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

/** Downloads every lake object under `prefix` into `dir`; key → { file, sha256, last modified }. */
async function download(s3: S3Client, bucket: string, prefix: string, dir: string) {
  mkdirSync(dir, { recursive: true });
  const out = new Map<string, { file: string; sha: string; modified: number }>();
  for (const key of (await listLakeKeys(s3, bucket, prefix)).sort()) {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const body = Buffer.from(await res.Body!.transformToByteArray());
    const file = join(dir, `${out.size}-${createHash('sha1').update(key).digest('hex')}.parquet`);
    writeFileSync(file, body);
    out.set(key, { file, sha: createHash('sha256').update(body).digest('hex'), modified: res.LastModified!.getTime() });
  }
  return out;
}

/** A DuckDB list literal of the downloaded files. */
function fileList(objects: Map<string, { file: string }>): string {
  return [...objects.values()].map((o) => `'${o.file}'`).join(', ');
}

async function rows(con: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await con.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}

/** What DuckDB shows for an Avro value of this column (JSON form): the comparison of typed values. */
function expectedCell(avroValue: unknown, duckType: string): unknown {
  if (avroValue === null || avroValue === undefined) return null;
  // BIGINT (and timestamps, selected as epoch_ms) come back as decimal strings.
  if (duckType === 'BIGINT' || duckType === 'TIMESTAMP WITH TIME ZONE') return String(avroValue);
  return avroValue; // VARCHAR (strings, enums), INTEGER, DECIMAL(p,s) as its exact string
}

/**
 * Checks the objects of one topic: layout names, at least two objects per partition, footer
 * offsets, and every row against the topic record at its offset; returns the object count.
 */
async function assertLakeMatchesTopic(
  con: DuckDBConnection,
  objects: Map<string, { file: string }>,
  topicValues: Map<string, TopicValue>,
  topic: string,
  schemaTopic: string,
): Promise<void> {
  const pii = new Set(markedFieldNames(loadSchema(schemaTopic)));
  const seen = new Set<string>();
  const perPartition = new Map<number, number>();
  for (const [key, { file }] of objects) {
    const parsed = parseObjectKey(key);
    assert.ok(parsed, `${key} follows the layout`);
    assert.equal(parsed.format, 'parquet');
    assert.ok(key.endsWith('.parquet'));
    assert.equal(parsed.topic, topic);
    perPartition.set(parsed.partition, (perPartition.get(parsed.partition) ?? 0) + 1);
    const types = new Map(
      (await rows(con, `DESCRIBE SELECT * FROM read_parquet('${file}')`)).map((r) => [
        String(r.column_name),
        String(r.column_type),
      ]),
    );
    const tsCols = [...types].filter(([, t]) => t.startsWith('TIMESTAMP')).map(([c]) => c);
    const select = [...types.keys()]
      .map((c) => (tsCols.includes(c) ? `epoch_ms("${c}") AS "${c}"` : `"${c}"`))
      .join(', ');
    const got = await rows(con, `SELECT ${select} FROM read_parquet('${file}')`);
    const kv = new Map(
      (await rows(con, `SELECT decode(key) k, decode(value) v FROM parquet_kv_metadata('${file}')`)).map((r) => [
        r.k,
        r.v,
      ]),
    );
    assert.equal(kv.get('sluice.first.offset'), parsed.startOffset.toString(), `${key}: footer first offset`);
    assert.equal(
      kv.get('sluice.last.offset'),
      (parsed.startOffset + BigInt(got.length) - 1n).toString(),
      `${key}: footer last offset`,
    );
    assert.equal(
      JSON.parse(String(kv.get('parquet.avro.schema'))).name,
      (loadSchema(schemaTopic) as { name: string }).name,
    );
    for (const [i, row] of got.entries()) {
      const id: string = `${parsed.partition}/${parsed.startOffset + BigInt(i)}`;
      const want = topicValues.get(id);
      assert.ok(want, `${key} row ${i}: ${id} is on the topic`);
      assert.ok(!seen.has(id), `${id} is in the lake twice`);
      seen.add(id);
      if (i === 0) {
        const { dt, hour } = hourPartition(want.timestamp);
        assert.deepEqual([parsed.dt, parsed.hour], [dt, hour], `${key}: directory of the first record's event hour`);
      }
      for (const [col, duckType] of types) {
        const avro: unknown = want.value[col];
        if (pii.has(col)) {
          // Masked in the staging zone (maskPii): only nullness survives the comparison.
          assert.equal(row[col] === null, avro === null, `${id}.${col}: null kept through masking`);
          continue;
        }
        assert.deepEqual(row[col], expectedCell(avro, duckType), `${id}.${col} (${duckType})`);
      }
    }
  }
  assert.equal(seen.size, topicValues.size, `${topic}: every record once, none extra`);
  for (let p = 0; p < PARTITIONS; p++)
    assert.ok((perPartition.get(p) ?? 0) >= 2, `${topic}[${p}]: rolled into two objects or more`);
}

function orderOf(i: number) {
  return {
    order_id: 10_000_000_000 + i,
    customer_id: i % 97,
    status: ['pending', 'paid', 'shipped', 'refunded'][i % 4],
    total_amount:
      i % 50 === 0 ? `-${i}.05` : i % 7 === 0 ? '0.00' : `${(i * 7919) % 100000}.${String(i % 100).padStart(2, '0')}`,
    currency: i % 3 ? 'EUR' : 'USD',
    ordered_at: T0 + i * 1000 + (i % 1000),
    updated_at: T0 + i * 1000 + 999,
    op: (['c', 'u', 'r', 'd'] as const)[i % 4],
    extracted_at: T0 + 2 * 3_600_000,
  };
}

function clickOf(i: number) {
  const cart = i % 3 === 0;
  return {
    event_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    event_type: cart ? 'add_to_cart' : 'page_view',
    session_id: i % 11 === 0 ? null : `s${i % 40}`,
    customer_id: i % 2 ? null : 9_007_199_254_000_000 + i,
    event_time: T0 + i * 700,
    page_url: cart ? null : `https://shop.test/p/${i}`,
    product_id: cart ? i % 500 : null,
    quantity: cart ? 1 + (i % 4) : null,
    price: cart ? `${i % 1000}.${String(i % 97).padStart(2, '0')}` : null,
    order_id: null,
    user_agent: i % 5 === 0 ? null : 'Mozilla/5.0',
  };
}

test('the Parquet lake reads back row for row in DuckDB, typed; a replay rewrites the same objects', {
  timeout: 300_000,
}, async () => {
  const cfg: Config = { ...(await realStack()), httpPort: 0 };
  const prefix = uniqueName('itpq');
  const def = prefixTopology(
    lakeTopology({ format: 'parquet', rollRecords: ROLL_RECORDS, idleCloseMs: 1000, parquetRowGroupRows: 100 }),
    prefix,
  );
  const orders = `${prefix}.silver.orders`;
  const clicks = `${prefix}.silver.clickstream`;
  const kafka = createKafkaClient(cfg, 'it-s3-parquet');
  const s3 = createS3Client(cfg);
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const dir = mkdtempSync(join(tmpdir(), 'sluice-parquet-it-'));
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  try {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(
      admin,
      [orders, clicks].map((topic) => ({ topic, partitions: PARTITIONS })),
      { partitions: PARTITIONS, replicationFactor: 1 },
    );
    await admin.disconnect();
    const orderId = await registry.register('silver.orders-value', loadSchema('silver.orders'));
    const clickId = await registry.register('silver.clickstream-value', loadSchema('silver.clickstream'));
    const N_ORDERS = 1800;
    const N_CLICKS = 1500;
    const encodeAll = (id: number, make: (i: number) => unknown, n: number, step: number) =>
      Promise.all(
        Array.from({ length: n }, async (_, i) => ({
          partition: i % PARTITIONS,
          key: `k${i}`,
          value: await serde.encode(id, make(i)),
          timestamp: T0 + i * step,
        })),
      );
    await produce(kafka, orders, await encodeAll(orderId, orderOf, N_ORDERS, 1000));
    await produce(kafka, clicks, await encodeAll(clickId, clickOf, N_CLICKS, 700));

    const started = Date.now();
    const groupId = uniqueName('it-lake-pq');
    const proc = await startRunnerProcess(cfg, [def], { groupId, commitIntervalMs: 200 });
    try {
      await eventually(() => committedEverything(kafka, groupId, [orders, clicks]), 'all offsets committed', 120_000);
    } finally {
      await proc.stop();
    }
    console.log(`# parquet lake: ${N_ORDERS + N_CLICKS} records landed and committed in ${Date.now() - started} ms`);

    const first = {
      orders: await download(s3, cfg.s3Bucket, `staging/${orders}/`, join(dir, 'a')),
      clicks: await download(s3, cfg.s3Bucket, `staging/${clicks}/`, join(dir, 'a')),
    };
    const orderValues = await readTopic(kafka, serde, orders, N_ORDERS);
    const clickValues = await readTopic(kafka, serde, clicks, N_CLICKS);
    await assertLakeMatchesTopic(con, first.orders, orderValues, orders, 'silver.orders');
    await assertLakeMatchesTopic(con, first.clicks, clickValues, clicks, 'silver.clickstream');

    // The column types DuckDB reports, and the Parquet repetition behind "nullable".
    const oFile = [...first.orders.values()][0].file;
    const cFile = [...first.clicks.values()][0].file;
    const typesOf = async (file: string) =>
      Object.fromEntries(
        (await rows(con, `DESCRIBE SELECT * FROM read_parquet('${file}')`)).map((r) => [r.column_name, r.column_type]),
      );
    assert.deepEqual(await typesOf(oFile), {
      order_id: 'BIGINT',
      customer_id: 'BIGINT',
      status: 'VARCHAR',
      total_amount: 'DECIMAL(12,2)',
      currency: 'VARCHAR',
      ordered_at: 'TIMESTAMP WITH TIME ZONE',
      updated_at: 'TIMESTAMP WITH TIME ZONE',
      op: 'VARCHAR',
      extracted_at: 'TIMESTAMP WITH TIME ZONE',
    });
    const clickTypes = await typesOf(cFile);
    assert.equal(clickTypes.price, 'DECIMAL(12,2)');
    assert.equal(clickTypes.quantity, 'INTEGER');
    assert.equal(clickTypes.event_time, 'TIMESTAMP WITH TIME ZONE');
    const repetition = Object.fromEntries(
      (await rows(con, `SELECT name, repetition_type FROM parquet_schema('${cFile}') WHERE name <> 'root'`)).map(
        (r) => [r.name, r.repetition_type],
      ),
    );
    assert.equal(repetition.event_id, 'REQUIRED');
    assert.equal(repetition.event_time, 'REQUIRED');
    for (const c of ['session_id', 'customer_id', 'price', 'quantity', 'order_id'])
      assert.equal(repetition[c], 'OPTIONAL', `${c} is nullable`);
    const meta = await rows(con, `SELECT DISTINCT compression FROM parquet_metadata('${oFile}')`);
    assert.deepEqual(
      meta.map((r) => r.compression),
      ['ZSTD'],
    );
    const groups = await rows(con, `SELECT count(DISTINCT row_group_id)::INTEGER n FROM parquet_metadata('${oFile}')`);
    assert.ok(Number(groups[0].n) >= 2, 'parquetRowGroupRows splits an object into row groups');
    // One query over the whole lake, as a reader would run it.
    const all = await rows(
      con,
      `SELECT count(*)::INTEGER n, sum(total_amount)::VARCHAR s FROM read_parquet([${fileList(first.orders)}])`,
    );
    const exact = [...orderValues.values()].reduce(
      (s, r) => s + BigInt(String(r.value.total_amount).replace('.', '')),
      0n,
    );
    assert.equal(all[0].n, N_ORDERS);
    assert.equal(BigInt(String(all[0].s).replace('.', '')), exact, 'decimal sum exact');

    // Replay: a new consumer group re-reads the same offsets; exactly once by name still holds.
    const replayGroup = uniqueName('it-lake-pq-replay');
    const again = await startRunnerProcess(cfg, [def], { groupId: replayGroup, commitIntervalMs: 200 });
    try {
      await eventually(() => committedEverything(kafka, replayGroup, [orders, clicks]), 'replay committed', 120_000);
    } finally {
      await again.stop();
    }
    for (const [name, topic] of [
      ['orders', orders],
      ['clicks', clicks],
    ] as const) {
      const replayed = await download(s3, cfg.s3Bucket, `staging/${topic}/`, join(dir, 'b'));
      assert.deepEqual([...replayed.keys()], [...first[name].keys()], `${topic}: the same object names`);
      for (const [key, o] of replayed) {
        assert.ok(o.modified > first[name].get(key)!.modified, `${key}: rewritten by the replay`);
        assert.equal(o.sha, first[name].get(key)!.sha, `${key}: the same bytes (same rows)`);
      }
    }
    await assertLakeMatchesTopic(
      con,
      await download(s3, cfg.s3Bucket, `staging/${orders}/`, join(dir, 'c')),
      orderValues,
      orders,
      'silver.orders',
    );
  } finally {
    con.closeSync();
    db.closeSync();
    s3.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
