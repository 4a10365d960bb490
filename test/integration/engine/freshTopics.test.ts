import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readPositions } from '../../../connectors/postgres/extract/positions.ts';
import { readToEnd } from '../../../src/kafka/readRange.ts';
import { startReferenceReader } from '../../../src/runner/referenceReader.ts';
import { MapReferenceTable } from '../../../src/engine/referenceTable.ts';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { realStack, uniqueName } from '../../support/stack.ts';

/**
 * Regression: a fresh `sluice demo` died 1 time in 3 right after creating its topics with
 * "KafkaJSProtocolError: This server is not the leader for that topic-partition". A new topic is
 * in the broker's metadata, with a leader, a few hundred milliseconds before that leader hosts
 * the partition; a ListOffsets in between answers NOT_LEADER_FOR_PARTITION (or
 * UNKNOWN_TOPIC_OR_PARTITION), and kafkajs' admin.fetchTopicOffsets gives up on it at once.
 * Each round creates several topics and uses them at once, so the window is hit many times.
 */

const ROUNDS = 20;
const TOPICS_PER_ROUND = 10;
const PARTITIONS = 6; // more partitions per request: a longer window between announced and served

test('regression (demo not-leader crash): every partition is served by its leader when ensureTopics returns', async () => {
  const cfg = await realStack();
  const kafka = createKafkaClient(cfg, 'it-fresh-topics');
  const creator = kafka.admin();
  const user = kafka.admin(); // another client's view, as the runner's readers have
  await creator.connect();
  await user.connect();
  const failures: string[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const topics = Array.from({ length: TOPICS_PER_ROUND }, (_, i) => uniqueName(`it_fresh_${i}`));
      const created = await ensureTopics(
        creator,
        topics.map((topic) => ({ topic })),
        { partitions: PARTITIONS, replicationFactor: 1 },
      );
      assert.deepEqual(created, topics);
      // No retry here on purpose: ensureTopics' promise is that the topics are usable now. All
      // at once, as a starting runner's readers and the extract use them.
      await Promise.all(
        topics.map((t) =>
          user.fetchTopicOffsets(t).catch((err: Error) => {
            failures.push(`${t}: ${err.message}`);
          }),
        ),
      );
    }
  } finally {
    await creator.disconnect();
    await user.disconnect();
  }
  assert.deepEqual(failures, [], `${failures.length} of ${ROUNDS * TOPICS_PER_ROUND} fresh topics were not served yet`);
});

test('regression (demo not-leader crash): the engine readers ride out a topic whose leader is not ready yet', async () => {
  const cfg = await realStack();
  const kafka = createKafkaClient(cfg, 'it-fresh-readers');
  const admin = kafka.admin();
  await admin.connect();
  const serde = createAvroSerde(createRegistryClient(cfg), { maxMessageBytes: cfg.maxMessageBytes });
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const topics = Array.from({ length: TOPICS_PER_ROUND }, (_, i) => uniqueName(`it_fresh_r${i}`));
      // Not through ensureTopics, and without waiting for leaders: the readers below meet the
      // not-yet-served window themselves (unknown topic, then not leader) and must ride it out.
      await admin.createTopics({
        waitForLeaders: false,
        topics: topics.map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
      });
      const [reference, positions, ...restores] = topics;
      const withReference = round % 5 === 0; // it joins a group per start: a few rounds are enough
      // Settled, not Promise.all: a failing reader must not leave the others running past the test.
      const results = await Promise.allSettled([
        ...restores.map(async (t) => assert.equal(await readToEnd(kafka, t, () => {}), 0)),
        (async () => assert.equal((await readPositions(kafka, positions)).size, 0))(),
        withReference &&
          (async () => {
            const table = new MapReferenceTable();
            const reader = await startReferenceReader(cfg, kafka, serde, { topic: reference, key: 'id' }, table);
            await reader.ready;
            await reader.stop();
            assert.equal(table.size, 0);
          })(),
      ]);
      for (const r of results) if (r.status === 'rejected') throw r.reason;
    }
  } finally {
    await admin.disconnect();
  }
});
