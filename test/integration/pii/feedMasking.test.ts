import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSchema } from '../../../src/domain/schemas.ts';
import { startFeedServer } from '../../../src/feed/feedServer.ts';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { REDACTED } from '../../../src/pii/maskValue.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';
import { FeedClient, keyOf, result } from '../feed/feedTestKit.ts';

/**
 * The live feed applies its zone's policy (SLUICE_PII_FEED) to fields a metric's writer schema
 * marks "sluice.pii": redacted for every client when the feed is stricter than silver, shown as
 * they are when it follows silver (the default: silver already masked them).
 */
test('the feed masks fields its metric schema marks as personal data, by SLUICE_PII_FEED', async () => {
  const base = await realStack();
  const metric = uniqueName('it_pii_feed');
  const topic = `metrics.${metric}`;
  const kafka = createKafkaClient(base, 'it-pii-feed');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, partitions: 1 }], { partitions: 1, replicationFactor: 1 });
  // The revenue metric, with its group field marked as free text.
  const schema = loadSchema('metrics.revenue_per_minute') as { fields: Record<string, unknown>[] };
  const marked = {
    ...schema,
    fields: schema.fields.map((f) => (f.name === 'category' ? { ...f, 'sluice.pii': 'free_text' } : f)),
  };
  const registry = createRegistryClient(base);
  const schemaId = await registry.register(`${topic}-value`, marked as never);
  const serde = createAvroSerde(registry, { maxMessageBytes: base.maxMessageBytes });
  const producer = kafka.producer();
  await producer.connect();
  const r = result(Math.floor(Date.now() / 60_000) * 60_000, 'secret-category', 1);
  await producer.send({ topic, acks: -1, messages: [{ key: keyOf(r), value: await serde.encode(schemaId, r) }] });

  const categoryServed = async (cfg: typeof base) => {
    const srv = await startFeedServer({ ...cfg, feedToken: '' }, { host: '127.0.0.1', port: 0 });
    const client = await FeedClient.open(`${srv.url.replace(/^http/, 'ws')}/ws`);
    try {
      client.subscribe([metric]);
      await eventually(async () => client.updates().length > 0, 'the update of the one window');
      return client.updates().flatMap((u) => [u.value?.category, u.key?.split('|')[1]]);
    } finally {
      await client.close();
      await srv.close();
    }
  };
  try {
    assert.deepEqual(
      await categoryServed({ ...base, piiSilver: 'keep', piiFeed: 'redact' }),
      [REDACTED, REDACTED],
      'SLUICE_PII_SILVER=keep, SLUICE_PII_FEED=redact: redacted, in the value and in the key',
    );
    assert.deepEqual(
      await categoryServed({ ...base, piiSilver: 'keep', piiFeed: 'keep' }),
      ['secret-category', 'secret-category'],
      'both keep: as it is',
    );
  } finally {
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await registry.deleteSubject(`${topic}-value`);
    await admin.disconnect();
  }
});
