import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { LOCAL_RETENTION_BYTES } from '../../../src/stack/services/kafkaService.ts';
import { realStack, uniqueName } from '../../support/stack.ts';

test('regression (CI: a reader found its topic emptied mid-read): topics on the local stack keep records by size, ' +
  'not by age, so historical event times survive the retention check', { timeout: 60_000 }, async () => {
  // The describe goes through kafkajs whatever client the run uses: the setting is the broker's.
  const cfg = { ...(await realStack()), kafkaClient: 'kafkajs' as const };
  const kafka = createKafkaClient(cfg, 'it-retention');
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topic = uniqueName('it-retention');
    await ensureTopics(admin, [{ topic, partitions: 1 }], { partitions: 1, replicationFactor: 1 });
    const { resources } = await admin.describeConfigs({
      resources: [
        { type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms', 'retention.bytes'] },
      ],
      includeSynonyms: false,
    });
    const value = (name: string) => resources[0].configEntries.find((e) => e.configName === name)?.configValue;
    assert.equal(value('retention.ms'), '-1', 'no age limit: a record dated last year is not deleted');
    assert.equal(value('retention.bytes'), String(LOCAL_RETENTION_BYTES), 'bounded by size instead');
    await admin.deleteTopics({ topics: [topic] });
  } finally {
    await admin.disconnect();
  }
});
