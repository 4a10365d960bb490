import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../../../src/config/config.ts';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import type { KafkaMessage } from '../../../src/kafka/kafkaTypes.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { CLICK_BAD_KINDS, EVENT_TYPES, generateClickstream } from '../../../src/shop/generate/clickstreamGenerator.ts';
import { newClassifier } from '../../support/clickClassifier.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

/**
 * The clickstream generator against the real Kafka and schema registry: what a consumer reads
 * back from the topic, classified record by record, equals the generator's ground truth.
 */

const MAX_BYTES = 65_536;
const BASE_TIME = Date.UTC(2025, 5, 15, 12, 0, 0);
const productIds = Array.from({ length: 150 }, (_, i) => 10 + i * 7);
const customerIds = Array.from({ length: 400 }, (_, i) => i + 1);

let cfg: Config;
let small: Config;
const topics: string[] = [];
const dir = mkdtempSync(path.join(tmpdir(), 'sluice-clicks-'));

async function createTopic(): Promise<string> {
  const topic = uniqueName('test.clicks');
  topics.push(topic);
  const admin = createKafkaClient(cfg).admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [{ topic, partitions: 3 }], { partitions: 3, replicationFactor: 1 });
  } finally {
    await admin.disconnect();
  }
  return topic;
}

async function topicSize(topic: string): Promise<number> {
  const admin = createKafkaClient(cfg).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((s, p) => s + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Every record of each topic, per partition in offset order (one consumer group for all). */
async function consumeAll(expected: Record<string, number>): Promise<Map<string, Map<number, KafkaMessage[]>>> {
  const consumer = createKafkaClient(cfg, 'sluice-test', { quiet: true }).consumer({ groupId: uniqueName('g') });
  const out = new Map<string, Map<number, KafkaMessage[]>>(Object.keys(expected).map((t) => [t, new Map()]));
  const have: Record<string, number> = Object.fromEntries(Object.keys(expected).map((t) => [t, 0]));
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: Object.keys(expected), fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const byPartition = out.get(batch.topic)!;
        const list = byPartition.get(batch.partition) ?? [];
        list.push(...batch.messages);
        byPartition.set(batch.partition, list);
        have[batch.topic] += batch.messages.length;
      },
    });
    await eventually(
      async () => Object.entries(expected).every(([t, n]) => have[t] >= n),
      `records ${JSON.stringify(expected)} (have ${JSON.stringify(have)})`,
      60_000,
    );
  } finally {
    await consumer.disconnect();
  }
  return out;
}

before(async () => {
  cfg = await realStack();
  small = { ...cfg, maxMessageBytes: MAX_BYTES };
});

after(async () => {
  rmSync(dir, { recursive: true, force: true });
  const registry = createRegistryClient(cfg);
  const admin = createKafkaClient(cfg).admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => {});
  await admin.disconnect();
  for (const t of topics) await registry.deleteSubject(`${t}-value`).catch(() => {});
});

test('the records read back from the topic match the ground truth exactly', async () => {
  const topic = await createTopic();
  const groundTruthFile = path.join(dir, 'truth.json');
  const result = await generateClickstream(small, {
    rate: 0,
    count: 3_000,
    badRatio: 0.1,
    seed: 'integration',
    baseTime: BASE_TIME,
    topic,
    productIds,
    customerIds,
    groundTruthFile,
    print: false,
    progress: false,
  });
  assert.equal(result.total, 3_000);
  assert.equal(result.aborted, false);
  for (const k of CLICK_BAD_KINDS) assert.ok(result.bad[k] > 0, `some ${k}`);
  assert.ok(result.duplicates > 0 && result.outOfOrder > 0 && result.late > 0);
  assert.deepEqual(JSON.parse(readFileSync(groundTruthFile, 'utf8')), JSON.parse(JSON.stringify(result)));

  const byPartition = (await consumeAll({ [topic]: result.total })).get(topic)!;
  assert.equal([...byPartition.keys()].length, 3, 'keys spread over the 3 partitions');
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: MAX_BYTES });
  const classifier = newClassifier({ serde, catalog: new Set(productIds), futureAfter: BASE_TIME + 12 * 3_600_000 });
  for (const messages of byPartition.values()) {
    for (const m of messages) await classifier.add(m.key ?? null, m.value ?? null);
  }
  const got = classifier.counts;
  assert.equal(got.total, result.total);
  assert.equal(got.valid, result.valid);
  assert.equal(got.duplicates, result.duplicates);
  assert.equal(got.outOfOrder, result.outOfOrder);
  assert.equal(got.late, result.late);
  assert.deepEqual(Object.fromEntries(CLICK_BAD_KINDS.map((k) => [k, got.bad[k] ?? 0])), result.bad);
  assert.deepEqual(Object.fromEntries(EVENT_TYPES.map((k) => [k, got.eventTypes[k] ?? 0])), result.eventTypes);
  // The schema is registered under the topic's value subject.
  assert.equal(await registry.latestId(`${topic}-value`), result.schemaId);
});

test('two runs with the same seed write the same keys and values', async () => {
  const [t1, t2] = [await createTopic(), await createTopic()];
  const opts = {
    rate: 0,
    count: 400,
    badRatio: 0.1,
    seed: 'twice',
    baseTime: BASE_TIME,
    productIds,
    customerIds,
    print: false,
    progress: false,
  };
  const r1 = await generateClickstream(small, { ...opts, topic: t1 });
  const r2 = await generateClickstream(small, { ...opts, topic: t2 });
  assert.deepEqual(
    { ...r1, topic: '', elapsedMs: 0, eventsPerSecond: 0 },
    { ...r2, topic: '', elapsedMs: 0, eventsPerSecond: 0 },
  );
  const both = await consumeAll({ [t1]: 400, [t2]: 400 });
  const [a, b] = [both.get(t1)!, both.get(t2)!];
  // Keyed records: same partitions, same order. Null-keyed ones (null_session) are spread at
  // random by the partitioner, so only their set is compared.
  const keyed = (m: Map<number, KafkaMessage[]>) =>
    [...m.entries()]
      .sort(([x], [y]) => x - y)
      .flatMap(([p, list]) =>
        list.filter((r) => r.key).map((r) => `${p}:${r.key!.toString('hex')}:${r.value?.toString('hex')}`),
      );
  const unkeyed = (m: Map<number, KafkaMessage[]>) =>
    [...m.values()]
      .flat()
      .filter((r) => !r.key)
      .map((r) => r.value?.toString('hex'))
      .sort();
  const [ka, kb] = [keyed(a), keyed(b)];
  assert.equal(ka.length, kb.length);
  assert.ok(
    ka.every((x, i) => x === kb[i]),
    'keyed records identical, partition by partition',
  );
  assert.deepEqual(unkeyed(a), unkeyed(b));
  assert.equal(ka.length + unkeyed(a).length, 400);
});

test('rate limiting holds and an abort stops cleanly with exact counts of what was produced', async () => {
  const topic = await createTopic();
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 1_500);
  const t0 = Date.now();
  const result = await generateClickstream(small, {
    rate: 200,
    durationMs: 60_000,
    badRatio: 0.05,
    seed: 'abort',
    topic,
    productIds,
    customerIds,
    signal: ac.signal,
    print: false,
    progress: false,
  });
  assert.equal(result.aborted, true);
  assert.ok(Date.now() - t0 < 10_000);
  assert.ok(result.total > 100 && result.total < 600, `~200/s for ~1.5 s plus setup, got ${result.total}`);
  assert.equal(await topicSize(topic), result.total, 'the topic holds exactly what the ground truth counts');
});
