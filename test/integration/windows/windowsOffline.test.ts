import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT, type Config } from '../../../src/config/config.ts';
import { buildClickstreamEvents, syntheticPrice } from '../../../src/shop/generate/clickstreamGenerator.ts';
import { createKafkaClient, type KafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { startRunnerProcess } from '../../../src/runner/runnerProcess.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import { prefixTopology } from '../../../src/testing/prefixTopology.ts';
import { metricsTopology, REPARTITION_TOPIC } from '../../../topologies/metrics.ts';
import { readAll, topicCount } from '../../support/kafkaHelpers.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';
import { offlineFunnel, type Click } from '../../../src/testing/offlineMetrics.ts';

const TIMING = { outOfOrdernessMs: 10_000, graceMs: 5_000, sessionGapMs: 5 * 60_000 };
// Long enough that no pause (restart, rebalance) advances event time on the wall clock; the
// last windows are closed by a final event an hour later instead (not itself compared).
const IDLE_MS = 600_000;
const SENTINEL_GAP_MS = 3600_000;

/** Valid clicks (as silver would hold them: no duplicates), produced to one partition in a fixed order. */
async function produceClicks(cfg: Config, kafka: KafkaClient, topic: string, count: number): Promise<Click[]> {
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const schemaId = await registry.register('web.clickstream-value', loadSchema('web.clickstream'));
  const products = Array.from({ length: 30 }, (_, i) => ({ id: i + 1, price: syntheticPrice(i + 1) }));
  const { messages } = buildClickstreamEvents({
    count,
    schemaId,
    products,
    seed: 'windows',
    baseTime: Date.now() - 3 * 3600_000,
    rate: 5,
    badRatio: 0,
    maxMessageBytes: cfg.maxMessageBytes,
  });
  const valid = messages.filter((m) => m.kind !== 'duplicate');
  const clicks: Click[] = [];
  for (const m of valid) clicks.push((await serde.decode(m.value)).value as Click);
  const last = Math.max(...clicks.map((c) => c.event_time));
  const sentinel = {
    ...clicks[0],
    event_id: 'sentinel',
    session_id: 'sentinel',
    event_type: 'page_view',
    event_time: last + SENTINEL_GAP_MS,
  };
  valid.push({
    key: Buffer.from('sentinel'),
    value: serde.encodeSync(schemaId, { ...((await serde.decode(valid[0].value)).value as object), ...sentinel }),
    kind: 'normal',
  });
  clicks.push(sentinel);
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < valid.length; i += 2000)
    await producer.send({
      topic,
      acks: -1,
      messages: valid.slice(i, i + 2000).map((m) => ({ key: m.key, value: m.value, partition: 0 })),
    });
  await producer.disconnect();
  return clicks;
}

async function setup(partitions = 1) {
  const cfg = { ...(await realStack()), httpPort: 0, topicPartitions: partitions };
  const prefix = uniqueName('it');
  const kafka = createKafkaClient(cfg, 'it-windows');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(
    admin,
    ['silver.clickstream', 'silver.orders', 'silver.order_items', 'silver.products', REPARTITION_TOPIC].map((t) => ({
      topic: `${prefix}.${t}`,
      partitions,
    })),
    { partitions, replicationFactor: 1 },
  );
  await admin.disconnect();
  const clicks = await produceClicks(cfg, kafka, `${prefix}.silver.clickstream`, 6000);
  const expected = offlineFunnel(clicks, TIMING);
  // The sentinel's own window stays open.
  const sentinelWindow = Math.floor(clicks.at(-1)!.event_time / 300_000) * 300_000;
  expected.finals.delete(sentinelWindow);
  return { cfg, prefix, kafka, clicks, expected };
}

interface FunnelRow {
  window_start: number;
  views: number;
  product_views: number;
  carts: number;
  checkouts: number;
  purchases: number;
  final: boolean;
}

async function checkAgainstOffline(
  cfg: Config,
  kafka: KafkaClient,
  prefix: string,
  expected: ReturnType<typeof offlineFunnel>,
  lateOnce = true,
) {
  const serde = createAvroSerde(createRegistryClient(cfg), { maxMessageBytes: cfg.maxMessageBytes });
  const funnelTopic = `${prefix}.metrics.funnel_5m`;
  // Wait until every expected window has its final result.
  const finals = await eventually(
    async () => {
      const rows = await Promise.all(
        (await readAll(cfg, funnelTopic, kafka)).map(async (r) => (await serde.decode(r.value)).value as FunnelRow),
      );
      const f = rows.filter((r) => r.final);
      if (process.env.DEBUG_WIN)
        process.stdout.write(
          `# rows ${rows.length} finals ${f.length} windows ${new Set(f.map((r) => r.window_start)).size}/${expected.finals.size} repartition ${await topicCount(kafka, `${prefix}.${REPARTITION_TOPIC}`)} late ${await topicCount(kafka, `${prefix}.metrics.late`)} dlq ${await topicCount(kafka, `${prefix}.${REPARTITION_TOPIC}.errors`)}\n`,
        );
      const closed = f.filter(
        (r) => expected.finals.has(r.window_start) || r.window_start < Math.max(...expected.finals.keys()),
      );
      return new Set(closed.map((r) => r.window_start)).size >= expected.finals.size ? closed : undefined;
    },
    'every window final',
    300_000,
  );
  const byWindow = new Map<number, FunnelRow[]>();
  for (const f of finals) byWindow.set(f.window_start, [...(byWindow.get(f.window_start) ?? []), f]);
  assert.deepEqual([...byWindow.keys()].sort(), [...expected.finals.keys()].sort(), 'the same windows');
  for (const [start, rows] of byWindow) {
    const want = expected.finals.get(start)!;
    for (const r of rows) {
      // A final result may be re-emitted after a restart, but only ever with the same value.
      assert.deepEqual(
        {
          views: r.views,
          product_views: r.product_views,
          carts: r.carts,
          checkouts: r.checkouts,
          purchases: r.purchases,
        },
        want,
        `window ${new Date(start).toISOString()}`,
      );
    }
  }
  const late = await readAll(cfg, `${prefix}.metrics.late`, kafka);
  const lateOf = (store: string) => late.filter((r) => r.headers['sluice.late.store'].endsWith(store));
  // Each late input once, told by its source coordinates. Without a crash, also each record once;
  // after a SIGKILL at least once (as every output of at-least-once): a late record and the
  // checkpoint that marks it sent may land on either side of the kill, and the re-delivered input
  // is then sent to the late topic again — as the same input, never as another one.
  const inputOf = (r: (typeof late)[number]) =>
    ['topic', 'partition', 'offset'].map((h) => r.headers[`sluice.late.source.${h}`]).join('/');
  for (const [store, want] of [
    ['funnel_5m', expected.funnelLate],
    ['active_sessions', expected.sessionsLate],
  ] as const) {
    const records = lateOf(store);
    assert.equal(new Set(records.map(inputOf)).size, want, `${store}: late inputs`);
    if (lateOnce) assert.equal(records.length, want, `${store}: late records, each once`);
  }
  return {
    windows: byWindow.size,
    late: expected.funnelLate + expected.sessionsLate,
    refinals: finals.length - byWindow.size,
  };
}

test('window finals equal an offline computation over the same events, out-of-order and late ones included; late counts equal', async () => {
  const { cfg, prefix, kafka, clicks, expected } = await setup();
  assert.ok(expected.funnelLate > 0 && expected.finals.size >= 4, 'the data has late records and several windows');
  const proc = await startRunnerProcess(
    cfg,
    [prefixTopology(metricsTopology({ ...TIMING, idleTimeoutMs: IDLE_MS, emitEveryMs: 500 }), prefix)],
    { groupId: uniqueName('it-win') },
  );
  try {
    const r = await checkAgainstOffline(cfg, kafka, prefix, expected);
    process.stdout.write(`# ${clicks.length} clicks, ${r.windows} funnel windows, ${r.late} late records\n`);
    assert.ok((await topicCount(kafka, `${prefix}.metrics.active_sessions`)) > 0, 'session windows emitted');
  } finally {
    await proc.stop();
  }
});

function child(prefix: string, groupId: string): Promise<{ child: ChildProcess; url: string }> {
  const c = spawn(
    process.execPath,
    [
      path.join(PROJECT_ROOT, 'test/support/runTopologyChild.ts'),
      'metrics',
      prefix,
      groupId,
      '-',
      String(IDLE_MS),
      '1',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SLUICE_LOG_LEVEL: 'error' } },
  );
  return new Promise((resolve, reject) => {
    c.once('exit', (code) => reject(new Error(`runner child exited early with ${code}`)));
    createInterface({ input: c.stdout! }).on('line', (line) => {
      if (line.startsWith('ready ')) resolve({ child: c, url: line.slice(6) });
    });
  });
}

async function stopChild(c: ChildProcess, signal: NodeJS.Signals) {
  c.removeAllListeners('exit');
  if (c.exitCode !== null || c.signalCode !== null) return;
  c.kill(signal);
  await once(c, 'exit');
}

test('the same finals after SIGKILL mid-window and a restart (state restored from the changelog), and after a second runner joins', async () => {
  const { cfg, prefix, kafka, expected } = await setup();
  const groupId = uniqueName('it-win-kill');
  const repartition = `${prefix}.${REPARTITION_TOPIC}`;
  const first = await child(prefix, groupId);
  await eventually(async () => (await topicCount(kafka, repartition)) > 2500, 'stage 1 under way', 60_000);
  await eventually(
    async () => (await topicCount(kafka, `sluice.metrics.${prefix}.funnel_5m.changelog`)) > 0 || undefined,
    'state in the changelog',
    60_000,
  );
  await stopChild(first.child, 'SIGKILL');
  const second = await child(prefix, groupId);
  const third = await child(prefix, groupId); // a second runner joins the group mid-stream
  try {
    await checkAgainstOffline(cfg, kafka, prefix, expected, false);
  } finally {
    await stopChild(second.child, 'SIGTERM');
    await stopChild(third.child, 'SIGTERM');
  }
});
