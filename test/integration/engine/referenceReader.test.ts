import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MapReferenceTable } from '../../../src/engine/referenceTable.ts';
import { createKafkaClient, type KafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { startReferenceReader } from '../../../src/runner/referenceReader.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

/**
 * The reference reader loads its topic (readRange, up to the end offsets at start) and then
 * follows it with a consumer that joined meanwhile: nothing between the two is lost or applied
 * out of order, rows written in transactions count once committed, and stopping during the load
 * returns.
 */

const SCHEMA = {
  type: 'record',
  name: 'Row',
  namespace: 'sluice.test.reference',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'version', type: 'long' },
  ],
};

async function referenceTopic(rows: number) {
  const cfg = await realStack();
  const kafka = createKafkaClient(cfg, 'it-reference-reader');
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const topic = uniqueName('it_reference');
  const schemaId = await registry.register(`${topic}-value`, SCHEMA as never);
  await serde.prepareIds([schemaId]);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, partitions: 3 }], { partitions: 3, replicationFactor: 1 });
  await admin.disconnect();
  const row = (id: number, version: number) => ({
    key: String(id),
    value: serde.encodeSync(schemaId, { id, version }),
  });
  const producer = kafka.producer();
  await producer.connect();
  // Every id written five times, in increasing versions: the table must end on the last one.
  for (let v = 0; v < 5; v++)
    await producer.send({ topic, acks: -1, messages: Array.from({ length: rows / 5 }, (_, id) => row(id, v)) });
  return { cfg, kafka, serde, topic, producer, row };
}

/** Committed end offsets summed over the topic's partitions (what a read_committed reader can see). */
async function visibleEnd(kafka: KafkaClient, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Writes `messages` in one transaction and returns once readers can see it. `commit()` returns
 * when the coordinator has logged the decision; the commit markers reach the partitions after
 * that, and until then the transaction's records are past the last stable offset.
 */
async function inTransaction(kafka: KafkaClient, topic: string, messages: { key: string; value: Buffer }[]) {
  const before = await visibleEnd(kafka, topic);
  const tx = kafka.producer({ transactionalId: uniqueName('it-reference-tx') });
  await tx.connect();
  try {
    const t = await tx.transaction();
    await t.send({ topic, messages });
    await t.commit();
  } finally {
    await tx.disconnect();
  }
  // One data record per message and one commit marker per partition written to.
  await eventually(
    async () => (await visibleEnd(kafka, topic)) >= before + messages.length + 1,
    'the committed transaction visible',
  );
}

const versionOf = (table: MapReferenceTable, id: number) =>
  (table.get(String(id)) as { version: number } | undefined)?.version;

test('ready with the latest row of every key, then follows plain and transactional writes', async () => {
  const { cfg, kafka, serde, topic, producer, row } = await referenceTopic(2000);
  await inTransaction(kafka, topic, [row(7, 100)]);
  const table = new MapReferenceTable();
  const reader = await startReferenceReader(cfg, kafka, serde, { topic, key: 'id' }, table);
  try {
    await reader.ready;
    assert.equal(table.size, 400);
    assert.equal(versionOf(table, 399), 4, 'the last version of each key');
    assert.ok(await reader.catchUp(10_000), 'caught up with the topic as it is now');
    assert.equal(versionOf(table, 7), 100, 'the committed transaction is in the table');

    await producer.send({ topic, acks: -1, messages: [row(1, 200), row(400, 0)] });
    assert.ok(await reader.catchUp(10_000), 'follows plain writes');
    assert.equal(versionOf(table, 1), 200);
    assert.equal(table.size, 401);

    await inTransaction(kafka, topic, [row(2, 300)]);
    assert.ok(await reader.catchUp(10_000), 'follows transactional writes (their commit markers included)');
    assert.equal(versionOf(table, 2), 300);
    assert.equal(versionOf(table, 399), 4, 'nothing older applied after the load');
  } finally {
    await reader.stop();
    await producer.disconnect();
  }
});

test('stopping a reference reader right after it started (its table possibly still loading) returns', async () => {
  const { cfg, kafka, serde, topic, producer } = await referenceTopic(20_000);
  await producer.disconnect();
  const reader = await startReferenceReader(cfg, kafka, serde, { topic, key: 'id' }, new MapReferenceTable());
  await reader.stop();
});
