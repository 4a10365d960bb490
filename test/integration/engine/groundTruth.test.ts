import { test } from 'node:test';
import assert from 'node:assert/strict';
import clickstream from '../../../topologies/clickstream.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import { generateClickstream, syntheticPrice } from '../../../src/shop/generate/clickstreamGenerator.ts';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { startRunnerProcess } from '../../../src/runner/runnerProcess.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { prefixTopology } from '../../../src/testing/prefixTopology.ts';
import { readAll, topicCount } from '../../support/kafkaHelpers.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

test("the generator's ground truth through the runner: valid + DLQ = input, DLQ counts per reason and rule equal the generator's, silver holds exactly the valid records", async () => {
  const base = await realStack();
  // A small size limit so `too_large` records stay cheap; the runner and generator share it.
  const cfg = { ...base, maxMessageBytes: 64 * 1024, httpPort: 0 };
  const prefix = uniqueName('it');
  const def = prefixTopology(clickstream, prefix);
  const clicks = `${prefix}.web.clickstream`;
  const products = `${prefix}.oltp.products`;
  const kafka = createKafkaClient(cfg, 'it-truth');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic: clicks }, { topic: products }], { partitions: 3, replicationFactor: 1 });
  await admin.disconnect();

  // The catalogue the referential rule checks against.
  const productIds = Array.from({ length: 40 }, (_, i) => i + 1);
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const pid = await registry.register('oltp.products-value', loadSchema('oltp.products'));
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic: products,
    acks: -1,
    messages: await Promise.all(
      productIds.map(async (id) => ({
        key: String(id),
        value: await serde.encode(pid, {
          product_id: id,
          sku: `S${id}`,
          name: `P${id}`,
          category: 'toys',
          price: syntheticPrice(id),
          active: true,
          created_at: 1,
          updated_at: 1,
          op: 'r',
          extracted_at: 1,
        }),
      })),
    ),
  });
  await producer.disconnect();

  const truth = await generateClickstream(cfg, {
    topic: clicks,
    count: 4000,
    badRatio: 0.1,
    seed: 'ground-truth',
    productIds,
    customerIds: Array.from({ length: 100 }, (_, i) => i + 1),
    baseTime: Date.now() - 30 * 60_000,
    print: false,
    progress: false,
  } as never);
  const b = truth.bad;
  assert.ok(
    Object.values(b).every((n) => n > 0),
    `every bad kind generated at least once: ${JSON.stringify(b)}`,
  );

  const proc = await startRunnerProcess(cfg, [def], { groupId: uniqueName('it-truth'), commitIntervalMs: 200 });
  try {
    const silver = `${prefix}.silver.clickstream`;
    const dlq = `${clicks}.dlq`;
    await eventually(
      async () => (await topicCount(kafka, silver)) + (await topicCount(kafka, dlq)) >= truth.total,
      'every input routed',
      120_000,
    );
    const dlqRecords = await readAll(cfg, dlq, kafka);
    const silverCount = await topicCount(kafka, silver);
    assert.equal(silverCount + dlqRecords.length, truth.total, 'valid + DLQ = input');
    assert.equal(silverCount, truth.valid - truth.duplicates, 'silver holds the valid records, each once');

    const byReason: Record<string, number> = {};
    const byRule: Record<string, number> = {};
    for (const r of dlqRecords) {
      byReason[r.headers['sluice.error.reason']] = (byReason[r.headers['sluice.error.reason']] ?? 0) + 1;
      if (r.headers['sluice.error.rule'])
        byRule[r.headers['sluice.error.rule']] = (byRule[r.headers['sluice.error.rule']] ?? 0) + 1;
    }
    assert.deepEqual(byReason, {
      deserialize: b.bad_magic + b.truncated + b.trailing_bytes + b.too_large + b.hostile_length,
      schema: b.unknown_schema,
      rule: b.null_session + b.price_out_of_range + b.future_event_time + b.unknown_product + truth.duplicates,
    });
    assert.deepEqual(byRule, {
      click_session_present: b.null_session,
      click_price_range: b.price_out_of_range,
      click_event_time_not_future: b.future_event_time,
      click_product_exists: b.unknown_product,
      click_event_unique: truth.duplicates,
    });
  } finally {
    await proc.stop();
  }
});
