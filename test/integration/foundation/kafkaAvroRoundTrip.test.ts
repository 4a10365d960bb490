import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { realStack, uniqueName } from '../../support/stack.ts';

const SCHEMA = {
  type: 'record',
  name: 'Reading',
  namespace: 'sluice.test',
  fields: [
    { name: 'seq', type: 'int' },
    { name: 'key', type: 'string' },
    { name: 'payload', type: 'string' },
  ],
};

test('10,000 Avro records over 3 partitions come back complete and in partition order through a consumer group', async () => {
  const cfg = await realStack();
  const topic = uniqueName('it.roundtrip');
  const kafka = createKafkaClient(cfg, 'it-roundtrip');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, partitions: 3 }], { partitions: 3, replicationFactor: 1 });
  const registry = createRegistryClient(cfg);
  const schemaId = await registry.register(`${topic}-value`, SCHEMA as never);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });

  const total = 10_000;
  const producer = kafka.producer();
  await producer.connect();
  for (let start = 0; start < total; start += 1000) {
    const messages = await Promise.all(
      Array.from({ length: 1000 }, async (_, j) => {
        const seq = start + j;
        const key = `k${seq % 37}`;
        return { key, value: await serde.encode(schemaId, { seq, key, payload: `p-${seq}` }) };
      }),
    );
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();

  const byPartition = new Map<number, number[]>();
  const keyPartition = new Map<string, number>();
  let received = 0;
  const consumer = kafka.consumer({ groupId: uniqueName('it-g') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
          for (const m of batch.messages) {
            const decoded = await serde.decode(m.value, { topic, partition: batch.partition, offset: m.offset });
            const v = decoded.value as { seq: number; key: string; payload: string };
            assert.equal(decoded.schemaId, schemaId);
            assert.equal(v.payload, `p-${v.seq}`);
            assert.equal(m.key?.toString(), v.key);
            const seen = keyPartition.get(v.key);
            if (seen !== undefined) assert.equal(seen, batch.partition, `key ${v.key} moved partitions`);
            keyPartition.set(v.key, batch.partition);
            const list = byPartition.get(batch.partition) ?? [];
            list.push(v.seq);
            byPartition.set(batch.partition, list);
            resolveOffset(m.offset);
            received++;
          }
          await heartbeat();
          if (received >= total) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();

  assert.equal(received, total);
  assert.equal(byPartition.size, 3, 'records spread over all 3 partitions');
  const all = [...byPartition.values()].flat().sort((a, b) => a - b);
  assert.deepEqual(
    all,
    Array.from({ length: total }, (_, i) => i),
    'every record exactly once',
  );
  for (const [partition, seqs] of byPartition) {
    for (let i = 1; i < seqs.length; i++)
      assert.ok(seqs[i - 1] < seqs[i], `partition ${partition} out of order at ${i}`);
  }
  const offsets = await admin.fetchTopicOffsets(topic);
  assert.equal(
    offsets.reduce((n, p) => n + Number(p.high), 0),
    total,
  );
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
});
