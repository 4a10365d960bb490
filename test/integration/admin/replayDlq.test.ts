import { test } from 'node:test';
import assert from 'node:assert/strict';
import customers from '../../../topologies/customers.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import type { Customer } from '../../../src/domain/types.generated.ts';
import { createKafkaClient, type KafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { headersAsText } from '../../../src/admin/headersAsText.ts';
import { readTopicRange, type RawRecord } from '../../../src/admin/readTopicRange.ts';
import { replayDlq } from '../../../src/admin/replayDlq.ts';
import type { ReplayProgress } from '../../../src/admin/replay/replayResult.ts';
import { startRunnerProcess } from '../../../src/runner/runnerProcess.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { prefixTopology } from '../../../src/testing/prefixTopology.ts';
import { defineTopology } from '../../../src/topology/defineTopology.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

async function endOffsets(kafka: KafkaClient, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return 0;
    return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

async function readAll(kafka: KafkaClient, topic: string): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  await readTopicRange(kafka, topic, {
    onRecord: (r) => {
      out.push(r);
    },
  });
  return out;
}

const tally = (values: string[]) => {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
};

/** The same customers topology after the "fix": the email format rule is dropped, presence stays. */
const relaxedCustomers = defineTopology({
  ...customers,
  rules: customers.rules!.filter((r) => r.name !== 'customer_email_format'),
  pipeline: ({ sources, ops }) =>
    sources['oltp.customers'].pipe(
      ops.decode<Customer>(),
      ops.validate(['customer_email_present']),
      ops.keyBy((c: Customer) => String(c.customer_id)),
      ops.toTopic('silver.customers'),
    ),
});

test('replay-dlq: dry run predicts the real run; passing records reach silver once, the rest return with replay.count 1; reruns change nothing; max attempts park', async () => {
  const cfg = { ...(await realStack()), httpPort: 0 };
  const prefix = uniqueName('it');
  const strict = prefixTopology(customers, prefix);
  const relaxed = prefixTopology(relaxedCustomers, prefix);
  const source = `${prefix}.oltp.customers`;
  const silver = `${prefix}.silver.customers`;
  const dlq = `${source}.dlq`;
  const trackingTopic = `${prefix}.replay.tracking`;
  const kafka = createKafkaClient(cfg, 'it-replay');

  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic: source, partitions: 3 }], { partitions: 3, replicationFactor: 1 });
  await admin.disconnect();
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const id = await registry.register('oltp.customers-value', loadSchema('oltp.customers'));
  await serde.encode(id, {
    customer_id: -1,
    email: null,
    full_name: '',
    country: 'DE',
    created_at: 0,
    updated_at: 0,
    op: 'c',
    extracted_at: 0,
  });
  const row = (i: number, email: string | null) =>
    serde.encodeSync(id, {
      customer_id: i,
      email,
      full_name: `C ${i}`,
      country: 'DE',
      created_at: 1,
      updated_at: 2,
      op: 'c',
      extracted_at: 3,
    });

  // Known bad kinds: a malformed email (the format rule, to be relaxed), no email (stays bad),
  // bytes that are not decodable Avro (stay bad).
  const valid = [0, 1, 2, 3, 4],
    malformed = [100, 101, 102, 103],
    noEmail = [200, 201, 202],
    garbage = ['g0', 'g1'];
  const messages = [
    ...valid.map((i) => ({ key: String(i), value: row(i, `c${i}@shop.test`) })),
    ...malformed.map((i) => ({ key: String(i), value: row(i, `customer ${i} at shop dot test`) })),
    ...noEmail.map((i) => ({ key: String(i), value: row(i, null) })),
    // g0 is not in the wire format (deserialize); g1 claims a schema id the registry never issued (schema).
    { key: 'g0', value: Buffer.from('not avro at all') },
    { key: 'g1', value: Buffer.from('\u0000\u007f\u00ff\u00ff\u00ffnot avro either', 'latin1') },
  ];
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: source, acks: -1, messages });
  await producer.disconnect();
  const dlqCount = malformed.length + noEmail.length + garbage.length;

  const groupId = uniqueName('g');
  const first = await startRunnerProcess(cfg, [strict], { groupId, commitIntervalMs: 200 });
  try {
    await eventually(
      async () => (await endOffsets(kafka, silver)) === valid.length && (await endOffsets(kafka, dlq)) === dlqCount,
      'records routed by the strict topology',
      60_000,
    );
  } finally {
    await first.stop();
  }
  // Precondition: the runner committed everything, so the fixed runner below only sees replays.
  const check = kafka.admin();
  await check.connect();
  const committed = (await check.fetchOffsets({ groupId, topics: [source] }))[0].partitions;
  const high = await check.fetchTopicOffsets(source);
  await check.disconnect();
  for (const p of committed)
    assert.equal(
      p.offset,
      high.find((h) => h.partition === p.partition)!.high,
      `partition ${p.partition} committed after stop`,
    );

  // Dry run with today's (strict) rules: nothing would pass.
  const unchanged = await replayDlq(cfg, { from: dlq, dryRun: true, topologies: { customers: strict }, trackingTopic });
  assert.equal(unchanged.matched, dlqCount);
  assert.equal(unchanged.wouldPass, 0);
  assert.deepEqual(unchanged.wouldFail.byRule, {
    customer_email_format: malformed.length,
    customer_email_present: noEmail.length,
  });

  // "Change a rule": from now on the relaxed topology is what runs.
  const dryRun = await replayDlq(cfg, { from: dlq, dryRun: true, topologies: { customers: relaxed }, trackingTopic });
  assert.equal(dryRun.read, dlqCount);
  assert.equal(dryRun.matched, dlqCount);
  assert.equal(dryRun.wouldPass, malformed.length);
  assert.equal(dryRun.wouldFail.total, noEmail.length + garbage.length);
  assert.deepEqual(dryRun.wouldFail.byReason, { rule: noEmail.length, deserialize: 1, schema: 1 });
  assert.deepEqual(dryRun.wouldFail.byRule, { customer_email_present: noEmail.length });
  assert.equal(dryRun.wouldPark, 0);
  assert.equal(dryRun.skippedAlreadyReplayed, 0);
  // Filters narrow the selection.
  const onlyFormat = await replayDlq(cfg, {
    from: dlq,
    dryRun: true,
    topologies: { customers: relaxed },
    trackingTopic,
    rule: 'customer_email_format',
  });
  assert.deepEqual(
    [onlyFormat.matched, onlyFormat.wouldPass, onlyFormat.wouldFail.total],
    [malformed.length, malformed.length, 0],
  );
  const onlyKey = await replayDlq(cfg, {
    from: dlq,
    dryRun: true,
    topologies: { customers: relaxed },
    trackingTopic,
    reason: 'deserialize',
    key: 'g0',
  });
  assert.deepEqual([onlyKey.matched, onlyKey.wouldFail.byReason], [1, { deserialize: 1 }]);
  // A dry run writes nothing.
  assert.equal(await endOffsets(kafka, trackingTopic), 0);
  assert.equal(await endOffsets(kafka, source), messages.length);

  const second = await startRunnerProcess(cfg, [relaxed], { groupId, commitIntervalMs: 200 });
  try {
    // Every run below selects what failed before the replay began (--until): records that fail
    // again during the replay come back as new DLQ records (replay.count 1), a later round's work.
    const replayStartedAt = Date.now();
    // A rate-limited run interrupted (Ctrl-C) part way...
    const ac = new AbortController();
    const interrupted = await replayDlq(cfg, {
      from: dlq,
      trackingTopic,
      until: replayStartedAt,
      rate: 5,
      signal: ac.signal,
      progressIntervalMs: 50,
      onProgress: (p: ReplayProgress) => {
        if (!p.dryRun && p.replayed >= 2) ac.abort();
      },
    });
    assert.equal(interrupted.interrupted, true);
    assert.ok(
      interrupted.replayed >= 2 && interrupted.replayed < dlqCount,
      `interrupted after ${interrupted.replayed}`,
    );
    assert.equal(interrupted.failed, 0);
    // ...and a rerun continues where it stopped.
    const rest = await replayDlq(cfg, { from: dlq, trackingTopic, until: replayStartedAt });
    assert.equal(rest.interrupted, false);
    assert.equal(rest.skipped, interrupted.replayed);
    assert.equal(rest.replayed, dlqCount - interrupted.replayed);
    assert.deepEqual([rest.parked, rest.failed], [0, 0]);
    const replayed = interrupted.replayed + rest.replayed;
    assert.equal(replayed, dryRun.wouldPass + dryRun.wouldFail.total, 'the dry run predicted every replayed record');

    // What the engine did with them equals the prediction.
    await eventually(
      async () =>
        (await endOffsets(kafka, silver)) === valid.length + dryRun.wouldPass &&
        (await endOffsets(kafka, dlq)) === dlqCount + dryRun.wouldFail.total,
      'replayed records processed',
      60_000,
    );
    const silverKeys = (await readAll(kafka, silver)).map((r) => r.key!.toString());
    assert.deepEqual(
      tally(silverKeys),
      tally([...valid, ...malformed].map(String)),
      'each now-valid record reached silver exactly once',
    );

    const sourceRecords = await readAll(kafka, source);
    const replays = sourceRecords.filter((r) => headersAsText(r.headers)['sluice.replay.count'] !== undefined);
    assert.equal(replays.length, dlqCount);
    for (const r of replays) {
      const h = headersAsText(r.headers);
      assert.equal(h['sluice.replay.count'], '1');
      assert.ok(
        !Object.keys(h).some((k) => k.startsWith('sluice.error.') || k.startsWith('__connect.errors.')),
        'error headers are stripped',
      );
    }
    const dlqBound = messages.filter((m) => !valid.map(String).includes(m.key));
    assert.deepEqual(
      replays.map((r) => `${r.key}=${r.value!.toString('base64')}`).sort(),
      dlqBound.map((m) => `${m.key}=${m.value.toString('base64')}`).sort(),
      'the ORIGINAL keys and bytes are replayed',
    );

    const returned = (await readAll(kafka, dlq))
      .map((r) => headersAsText(r.headers))
      .filter((h) => h['sluice.replay.count'] === '1');
    assert.equal(returned.length, dryRun.wouldFail.total, 'the rest returned to the DLQ with sluice.replay.count = 1');
    assert.deepEqual(tally(returned.map((h) => h['sluice.error.reason'])), dryRun.wouldFail.byReason);
    assert.deepEqual(
      tally(returned.filter((h) => h['sluice.error.rule']).map((h) => h['sluice.error.rule'])),
      dryRun.wouldFail.byRule,
    );

    // The same replay again (the DLQ as it was before this replay) changes nothing.
    const ends = await Promise.all([source, silver, dlq].map((t) => endOffsets(kafka, t)));
    const again = await replayDlq(cfg, { from: dlq, trackingTopic, until: replayStartedAt });
    assert.deepEqual(
      [again.matched, again.replayed, again.skipped, again.parked, again.failed],
      [dlqCount, 0, replayed, 0, 0],
    );
    const againDry = await replayDlq(cfg, {
      from: dlq,
      trackingTopic,
      until: replayStartedAt,
      dryRun: true,
      topologies: { customers: relaxed },
    });
    assert.deepEqual([againDry.wouldPass, againDry.wouldFail.total, againDry.skippedAlreadyReplayed], [0, 0, replayed]);
    assert.deepEqual(
      await Promise.all([source, silver, dlq].map((t) => endOffsets(kafka, t))),
      ends,
      'no topic changed',
    );

    // A plain rerun over the whole DLQ, including the records that failed again after their
    // replay (they carry the origin of their first failure), changes nothing either.
    const plain = await replayDlq(cfg, { from: dlq, trackingTopic });
    assert.deepEqual(
      [plain.replayed, plain.parked, plain.failed, plain.skipped],
      [0, 0, 0, replayed + dryRun.wouldFail.total],
    );
    for (const h of returned)
      assert.ok(
        h['sluice.replay.origin']?.startsWith(`${source}/`),
        'the origin travels with a record that failed again',
      );
    assert.deepEqual(
      await Promise.all([source, silver, dlq].map((t) => endOffsets(kafka, t))),
      ends,
      'no topic changed',
    );

    // With --retry-failed, records that already went round max-attempts times are parked, never looped.
    const parkDry = await replayDlq(cfg, {
      from: dlq,
      trackingTopic,
      maxAttempts: 1,
      retryFailed: true,
      dryRun: true,
      topologies: { customers: relaxed },
    });
    assert.deepEqual(
      [parkDry.wouldPark, parkDry.wouldPass, parkDry.wouldFail.total, parkDry.skippedAlreadyReplayed],
      [dryRun.wouldFail.total, 0, 0, replayed],
    );
    const parked = await replayDlq(cfg, { from: dlq, trackingTopic, maxAttempts: 1, retryFailed: true });
    assert.deepEqual(
      [parked.parked, parked.replayed, parked.skipped, parked.failed],
      [dryRun.wouldFail.total, 0, replayed, 0],
    );
    const parkedRecords = await readAll(kafka, `${dlq}.parked`);
    assert.equal(parkedRecords.length, dryRun.wouldFail.total);
    for (const r of parkedRecords)
      assert.equal(headersAsText(r.headers)['sluice.replay.count'], '1', 'parked with its DLQ headers');
    const parkedAgain = await replayDlq(cfg, { from: dlq, trackingTopic, maxAttempts: 1, retryFailed: true });
    assert.deepEqual([parkedAgain.parked, parkedAgain.replayed, parkedAgain.skipped], [0, 0, replayed + parked.parked]);
    assert.deepEqual(
      await Promise.all([source, silver, dlq].map((t) => endOffsets(kafka, t))),
      ends,
      'parking wrote nothing back',
    );
    assert.equal(await endOffsets(kafka, `${dlq}.parked`), dryRun.wouldFail.total);
  } finally {
    await second.stop();
  }
});
