import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import clickstream from '../../../topologies/clickstream.ts';
import { PROJECT_ROOT } from '../../../src/config/config.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import { buildClickstreamEvents, syntheticPrice } from '../../../src/generate/clickstreamGenerator.ts';
import { createKafkaClient, ensureTopics } from '../../../src/kafka/kafka.ts';
import { replayDlq } from '../../../src/ops/replayDlq.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { prefixTopology } from '../../../src/testing/prefixTopology.ts';
import { readAll, topicCount } from '../../support/kafkaHelpers.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

/**
 * Dedupe state is durable: a duplicate that arrives after a SIGKILL and a restart is still caught;
 * a record re-delivered after the crash (it is its own origin) is not mistaken for a duplicate of
 * itself; and a replay of the dead-lettered duplicates predicts, and gets, the same verdict.
 */

function child(prefix: string, groupId: string): Promise<ChildProcess> {
  const c = spawn(process.execPath, [path.join(PROJECT_ROOT, 'test/support/runTopologyChild.ts'), 'clickstream', prefix, groupId, '-', '', '3'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SLUICE_LOG_LEVEL: 'error' } });
  return new Promise((resolve, reject) => {
    c.once('exit', (code) => reject(new Error(`runner child exited early with ${code}`)));
    createInterface({ input: c.stdout! }).on('line', (line) => { if (line.startsWith('ready ')) resolve(c); });
  });
}

async function stop(c: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  c.removeAllListeners('exit');
  if (c.exitCode !== null || c.signalCode !== null) return;
  c.kill(signal);
  await once(c, 'exit');
}

test('dedupe state survives SIGKILL and restart; re-delivered records pass; replayed duplicates stay duplicates, as the dry run predicts', async () => {
  const cfg = { ...(await realStack()), httpPort: 0 };
  const prefix = uniqueName('it-dedupe');
  const def = prefixTopology(clickstream, prefix);
  const clicks = `${prefix}.web.clickstream`;
  const silver = `${prefix}.silver.clickstream`;
  const dlq = `${clicks}.dlq`;
  const kafka = createKafkaClient(cfg, 'it-dedupe');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic: clicks }, { topic: `${prefix}.oltp.products` }], { partitions: 3, replicationFactor: 1 });
  await admin.disconnect();

  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const pid = await registry.register('oltp.products-value', loadSchema('oltp.products'));
  const cid = await registry.register('web.clickstream-value', loadSchema('web.clickstream'));
  const products = Array.from({ length: 30 }, (_, i) => ({ id: i + 1, price: syntheticPrice(i + 1) }));
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: `${prefix}.oltp.products`, acks: -1, messages: await Promise.all(products.map(async (p) => ({
    key: String(p.id), value: await serde.encode(pid, { product_id: p.id, sku: `S${p.id}`, name: `P${p.id}`, category: 'toys', price: p.price, active: true, created_at: 1, updated_at: 1, op: 'r', extracted_at: 1 }),
  }))) });
  const { messages } = buildClickstreamEvents({ count: 3000, schemaId: cid, products, seed: 'dedupe', baseTime: Date.now() - 20 * 60_000, rate: 5, badRatio: 0, maxMessageBytes: cfg.maxMessageBytes });
  const unique = messages.filter((m) => m.kind !== 'duplicate');
  const ids = new Set<string>();
  for (const m of unique) ids.add(((await serde.decode(m.value)).value as { event_id: string }).event_id);
  assert.equal(ids.size, unique.length, 'the first phase has no duplicates');
  for (let i = 0; i < unique.length; i += 500) await producer.send({ topic: clicks, acks: -1, messages: unique.slice(i, i + 500).map((m) => ({ key: m.key, value: m.value })) });

  const groupId = uniqueName('it-dedupe');
  const silverIds = async () => {
    const rows = await readAll(cfg, silver, kafka);
    return { rows: rows.length, ids: new Set(await Promise.all(rows.map(async (r) => ((await serde.decode(r.value)).value as { event_id: string }).event_id))) };
  };
  // Phase 1: killed mid-stream, restarted: records after the last commit are re-delivered, and
  // their ids are already in the durable state — with their own origin, so they pass.
  let runner = await child(prefix, groupId);
  await eventually(async () => (await topicCount(kafka, silver)) >= unique.length / 3, 'a third of the clicks through', 60_000);
  await stop(runner, 'SIGKILL');
  runner = await child(prefix, groupId);
  await eventually(async () => (await silverIds()).ids.size === unique.length || undefined, 'every click in silver after the restart', 120_000);
  assert.equal(await topicCount(kafka, dlq), 0, 'a re-delivered record is not a duplicate of itself');

  // Phase 2: the same events again (same bytes: same id and event time), after another SIGKILL.
  await stop(runner, 'SIGKILL');
  const before = await silverIds();
  const again = unique.filter((_, i) => i % 10 === 0);
  await producer.send({ topic: clicks, acks: -1, messages: again.map((m) => ({ key: m.key, value: m.value })) });
  await producer.disconnect();
  runner = await child(prefix, groupId);
  try {
    await eventually(async () => (await topicCount(kafka, dlq)) >= again.length, 'the duplicates dead-lettered', 120_000);
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
    await eventually(async () => (await topicCount(kafka, dlq)) >= 2 * again.length, 'the replayed duplicates rejected again', 120_000);
    const back = (await readAll(cfg, dlq, kafka)).filter((r) => r.headers['sluice.replay.count'] === '1');
    assert.equal(back.length, again.length);
    assert.ok(back.every((r) => r.headers['sluice.error.rule'] === 'click_event_unique'));
    assert.equal((await silverIds()).rows, after.rows, 'the replay added nothing to silver');
  } finally {
    await stop(runner, 'SIGTERM');
  }
});
