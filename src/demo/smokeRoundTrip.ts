import { PutObjectCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { pgConnection, type Config } from '../config/config.ts';
import { createKafkaClient, ensureTopics } from '../kafka/kafka.ts';
import { createS3Client } from '../s3/s3Client.ts';
import { createAvroSerde } from '../serde/avroSerde.ts';
import { createRegistryClient } from '../serde/schemaRegistry.ts';

/**
 * The Step-1 demo: a visible round-trip through every real service. Produces Avro records,
 * consumes them back in a consumer group, writes them to the lake and the warehouse, and says
 * where each went.
 */
const SMOKE_SCHEMA = {
  type: 'record', name: 'SmokeEvent', namespace: 'sluice.demo',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'note', type: 'string' },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
} as const;

export async function runSmokeRoundTrip(cfg: Config, opts: { records: number }, say: (line: string) => void) {
  const topic = 'sluice.demo.smoke';
  const kafka = createKafkaClient(cfg, 'sluice-demo');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic }], { partitions: cfg.topicPartitions, replicationFactor: cfg.topicReplication });
  await admin.disconnect();

  const registry = createRegistryClient(cfg);
  const schemaId = await registry.register(`${topic}-value`, SMOKE_SCHEMA as never);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  say(`registered ${topic}-value as schema id ${schemaId} at ${cfg.registryUrl}`);

  const runId = Math.floor(Date.now() / 1000);
  const producer = kafka.producer();
  await producer.connect();
  const messages = await Promise.all(Array.from({ length: opts.records }, async (_, i) => ({
    key: `k${i % 17}`, value: await serde.encode(schemaId, { id: runId * 10_000 + i, note: `smoke ${i}`, at: Date.now() }),
  })));
  await producer.send({ topic, acks: -1, messages });
  await producer.disconnect();
  say(`produced ${opts.records} Avro records to ${topic} (${cfg.kafkaBrokers})`);

  const consumer = kafka.consumer({ groupId: `sluice-demo-${runId}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: { id: number; note: string }[] = [];
  await new Promise<void>((resolve, reject) => {
    consumer.run({
      eachMessage: async ({ message, partition }) => {
        const { value } = await serde.decode(message.value, { topic, partition, offset: message.offset });
        const v = value as { id: number; note: string };
        if (Math.floor(v.id / 10_000) === runId) seen.push(v);
        if (seen.length >= opts.records) resolve();
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  say(`consumed ${seen.length} records back in group sluice-demo-${runId}`);

  const s3 = createS3Client(cfg);
  const key = `raw/${topic}/smoke-${runId}.jsonl`;
  await s3.send(new PutObjectCommand({ Bucket: cfg.s3Bucket, Key: key, Body: seen.map((r) => JSON.stringify(r)).join('\n') }));
  s3.destroy();
  say(`wrote s3://${cfg.s3Bucket}/${key}`);

  const client = new pg.Client(pgConnection(cfg, cfg.warehouseDatabase));
  await client.connect();
  await client.query('create schema if not exists demo');
  await client.query('create table if not exists demo.smoke (id bigint primary key, note text not null)');
  await client.query('insert into demo.smoke select * from unnest($1::bigint[], $2::text[]) on conflict do nothing', [seen.map((r) => r.id), seen.map((r) => r.note)]);
  const { rows } = await client.query('select count(*)::int as n from demo.smoke');
  await client.end();
  say(`warehouse ${cfg.warehouseDatabase}.demo.smoke now holds ${rows[0].n} rows`);
  return { topic, schemaId, produced: opts.records, consumed: seen.length, s3: `s3://${cfg.s3Bucket}/${key}`, warehouseRows: rows[0].n };
}
