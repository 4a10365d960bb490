import { test } from 'node:test';
import assert from 'node:assert/strict';
import clickstream from '../../../topologies/clickstream.ts';
import { buildClickstreamEvents } from '../../../src/shop/generate/clickstreamGenerator.ts';
import { replayDlq } from '../../../src/admin/replayDlq.ts';
import { prefixTopology } from '../../../src/testing/prefixTopology.ts';
import { clickstreamSource, runnerChild, stopChild as stop } from '../../support/clickstreamSource.ts';
import { readAll, topicCount } from '../../support/kafkaHelpers.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

/**
 * Dedupe state is durable: a duplicate that arrives after a SIGKILL and a restart is still caught;
 * a record re-delivered after the crash (it is its own origin) is not mistaken for a duplicate of
 * itself; and a replay of the dead-lettered duplicates predicts, and gets, the same verdict.
 */

test('dedupe state survives SIGKILL and restart; re-delivered records pass; replayed duplicates stay duplicates, as the dry run predicts', async () => {
  const cfg = { ...(await realStack()), httpPort: 0 };
  const prefix = uniqueName('it-dedupe');
  const def = prefixTopology(clickstream, prefix);
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
  const { messages } = buildClickstreamEvents({
    count: 3000,
    schemaId: cid,
    products,
    seed: 'dedupe',
    baseTime: Date.now() - 20 * 60_000,
    rate: 5,
    badRatio: 0,
    maxMessageBytes: cfg.maxMessageBytes,
  });
  const unique = messages.filter((m) => m.kind !== 'duplicate');
  const ids = new Set<string>();
  for (const m of unique) ids.add(((await serde.decode(m.value)).value as { event_id: string }).event_id);
  assert.equal(ids.size, unique.length, 'the first phase has no duplicates');
  for (let i = 0; i < unique.length; i += 500)
    await producer.send({
      topic: clicks,
      acks: -1,
      messages: unique.slice(i, i + 500).map((m) => ({ key: m.key, value: m.value })),
    });

  const groupId = uniqueName('it-dedupe');
  const silverIds = async () => {
    const rows = await readAll(cfg, silver, kafka);
    return {
      rows: rows.length,
      ids: new Set(
        await Promise.all(
          rows.map(async (r) => ((await serde.decode(r.value)).value as { event_id: string }).event_id),
        ),
      ),
    };
  };
  // Phase 1: killed mid-stream, restarted: records after the last commit are re-delivered, and
  // their ids are already in the durable state — with their own origin, so they pass.
  let runner = await runnerChild('clickstream', prefix, groupId);
  await eventually(
    async () => (await topicCount(kafka, silver)) >= unique.length / 3,
    'a third of the clicks through',
    60_000,
  );
  await stop(runner, 'SIGKILL');
  runner = await runnerChild('clickstream', prefix, groupId);
  await eventually(
    async () => (await silverIds()).ids.size === unique.length || undefined,
    'every click in silver after the restart',
    120_000,
  );
  assert.equal(await topicCount(kafka, dlq), 0, 'a re-delivered record is not a duplicate of itself');
  // Phase 2 is about new copies of the events. The runner must have committed everything first:
  // a kill before its next commit re-delivers what follows the last one (at-least-once), and
  // those records rightly pass again, as in phase 1.
  const clickCount = await topicCount(kafka, clicks);
  const admin = kafka.admin();
  await admin.connect();
  await eventually(
    async () =>
      (await admin.fetchOffsets({ groupId, topics: [clicks] }))[0].partitions.reduce(
        (n, p) => n + Math.max(0, Number(p.offset)),
        0,
      ) >= clickCount || undefined,
    'every click committed',
    30_000,
  );
  await admin.disconnect();

  // Phase 2: the same events again (same bytes: same id and event time), after another SIGKILL.
  await stop(runner, 'SIGKILL');
  const before = await silverIds();
  const again = unique.filter((_, i) => i % 10 === 0);
  await producer.send({ topic: clicks, acks: -1, messages: again.map((m) => ({ key: m.key, value: m.value })) });
  await producer.disconnect();
  runner = await runnerChild('clickstream', prefix, groupId);
  try {
    await eventually(
      async () => (await topicCount(kafka, dlq)) >= again.length,
      'the duplicates dead-lettered',
      120_000,
    );
    const dead = await readAll(cfg, dlq, kafka);
    assert.equal(dead.length, again.length, 'exactly the duplicates');
    assert.deepEqual([...new Set(dead.map((r) => r.headers['sluice.error.rule']))], ['click_event_unique']);
    const after = await silverIds();
    assert.equal(after.ids.size, unique.length);
    assert.ok(after.rows <= before.rows, 'no duplicate reached silver after the restart');

    // Replay: the dry run consults the same durable state and predicts "still duplicates"...
    const trackingTopic = `${prefix}.replay.tracking`;
    const dry = await replayDlq(cfg, { from: dlq, dryRun: true, topologies: { clickstream: def }, trackingTopic });
    assert.equal(dry.matched, again.length);
    assert.equal(dry.wouldPass, 0, 'no duplicate would pass');
    assert.deepEqual(dry.wouldFail.byRule, { click_event_unique: again.length });
    // ...and the real replay, through the running runner, agrees: all back in the DLQ, silver unchanged.
    const real = await replayDlq(cfg, { from: dlq, topologies: { clickstream: def }, trackingTopic });
    assert.equal(real.replayed, again.length);
    await eventually(
      async () => (await topicCount(kafka, dlq)) >= 2 * again.length,
      'the replayed duplicates rejected again',
      120_000,
    );
    const back = (await readAll(cfg, dlq, kafka)).filter((r) => r.headers['sluice.replay.count'] === '1');
    assert.equal(back.length, again.length);
    assert.ok(back.every((r) => r.headers['sluice.error.rule'] === 'click_event_unique'));
    assert.equal((await silverIds()).rows, after.rows, 'the replay added nothing to silver');
  } finally {
    await stop(runner, 'SIGTERM');
  }
});
