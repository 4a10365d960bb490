import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildClickstreamEvents } from '../../../src/shop/generate/clickstreamGenerator.ts';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { inspectTopic } from '../../../src/admin/inspectTopic.ts';
import { clickstreamSource, runnerChild, stopChild as stop } from '../../support/clickstreamSource.ts';
import { readAll, topicCount } from '../../support/kafkaHelpers.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

/**
 * SLUICE_PROCESSING_GUARANTEE=exactly_once: outputs, DLQ records, dedupe changelog writes and
 * input offsets of a batch commit in one transaction. Runners SIGKILLed mid-stream, and one
 * frozen (SIGSTOP) until another took its partitions over and then thawed (a zombie): a
 * read_committed reader of silver and the DLQ sees every record exactly once.
 */

const child = (prefix: string, groupId: string) =>
  runnerChild('clickstream', prefix, groupId, {
    // A small in-flight cap: nearly every batch pauses its partition until it commits, so a fenced
    // transaction leaves a paused partition behind to be resumed (it once stalled for good).
    env: { SLUICE_PROCESSING_GUARANTEE: 'exactly_once', SLUICE_MAX_IN_FLIGHT_RECORDS: '100' },
  });

test('exactly_once: SIGKILLs and a fenced zombie leave every valid click once in silver and every bad one once in the DLQ', async () => {
  const cfg = { ...(await realStack()), httpPort: 0 };
  const prefix = uniqueName('it-eos');
  const {
    kafka,
    serde,
    producer,
    clicks,
    silver,
    dlq,
    clickSchemaId: cid,
    products,
  } = await clickstreamSource(cfg, prefix);
  // Bad records of every kind as well (their DLQ records are part of the transactions too).
  const { messages, counts } = buildClickstreamEvents({
    count: 12_000,
    schemaId: cid,
    products,
    seed: 'eos',
    baseTime: Date.now() - 20 * 60_000,
    rate: 10,
    badRatio: 0.05,
    maxMessageBytes: cfg.maxMessageBytes,
  });
  for (let i = 0; i < messages.length; i += 1000)
    await producer.send({
      topic: clicks,
      acks: -1,
      messages: messages.slice(i, i + 1000).map((m) => ({ key: m.key, value: m.value })),
    });
  await producer.disconnect();
  const total = messages.length;
  const silverExpected = counts.valid - counts.duplicates;

  const groupId = uniqueName('it-eos');
  const routed = async () => (await topicCount(kafka, silver)) + (await topicCount(kafka, dlq));
  let runner = await child(prefix, groupId);
  for (const share of [0.2, 0.4]) {
    await eventually(async () => (await routed()) >= total * share, `${share * 100}% routed`, 120_000);
    await stop(runner, 'SIGKILL');
    runner = await child(prefix, groupId);
  }
  // A zombie: frozen while a second runner takes all its partitions over, then thawed mid-transaction.
  await eventually(async () => (await routed()) >= total * 0.6, '60% routed', 120_000);
  runner.kill('SIGSTOP');
  const successor = await child(prefix, groupId);
  try {
    await eventually(async () => (await routed()) >= total * 0.8, 'the successor took over', 120_000);
    runner.kill('SIGCONT');
    await eventually(
      async () => {
        const rows = await readAll(cfg, silver, kafka);
        return (
          rows.length >= silverExpected && (await topicCount(kafka, dlq)) >= total - counts.valid + counts.duplicates
        );
      },
      'everything routed',
      180_000,
    );
    const rows = await readAll(cfg, silver, kafka);
    const ids = await Promise.all(
      rows.map(async (r) => ((await serde.decode(r.value)).value as { event_id: string }).event_id),
    );
    const dup = ids.length - new Set(ids).size;
    assert.equal(dup, 0, `duplicate silver rows under exactly_once: ${dup}`);
    assert.equal(new Set(ids).size, silverExpected, 'every valid click once');
    const dead = await readAll(cfg, dlq, kafka);
    const origins = dead.map((r) => `${r.headers['sluice.error.partition']}/${r.headers['sluice.error.offset']}`);
    assert.equal(origins.length - new Set(origins).size, 0, 'every dead letter once');
    assert.equal(rows.length + dead.length, total, 'valid + DLQ = input');
  } finally {
    runner.kill('SIGCONT');
    await stop(runner, 'SIGKILL');
    await stop(successor, 'SIGTERM');
  }
});

test('readers of Sluice topics read committed: an aborted transaction is invisible to them, and shown by inspect --read-uncommitted', async () => {
  const cfg = { ...(await realStack()), httpPort: 0 };
  const topic = uniqueName('it-eos-aborted');
  const kafka = createKafkaClient(cfg, 'it-eos-aborted');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, partitions: 1 }], { partitions: 1, replicationFactor: 1 });
  await admin.disconnect();
  const producer = kafka.producer({ transactionalId: uniqueName('it-eos-tx') });
  await producer.connect();
  const aborted = await producer.transaction();
  await aborted.send({ topic, messages: [{ value: 'a1' }, { value: 'a2' }, { value: 'a3' }] });
  await aborted.abort();
  const committed = await producer.transaction();
  await committed.send({ topic, messages: [{ value: 'c1' }] });
  await committed.commit();
  await producer.disconnect();

  assert.deepEqual(
    (await readAll(cfg, topic, kafka)).map((r) => r.value!.toString()),
    ['c1'],
    'the test reader reads committed',
  );
  const values = (records: { value: unknown }[]) => records.map((r) => (r.value as { preview: string }).preview).sort();
  assert.deepEqual(values(await inspectTopic(cfg, { topic, fromBeginning: true, limit: 100 })), ['c1']);
  assert.deepEqual(values(await inspectTopic(cfg, { topic, fromBeginning: true, limit: 100, readUncommitted: true })), [
    'a1',
    'a2',
    'a3',
    'c1',
  ]);
});
