import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { WebSocket } from 'ws';
import { type AlertEvaluator, startAlertEvaluator } from '../../../src/alerts/alertEvaluator.ts';
import type { Incident } from '../../../src/alerts/incident.ts';
import { parseIncident } from '../../../src/alerts/incident.ts';
import type { SignalSource } from '../../../src/alerts/observation.ts';
import { consumerLagSignal } from '../../../src/alerts/signals/consumerLagSignal.ts';
import { dlqRateSignal } from '../../../src/alerts/signals/dlqRateSignal.ts';
import { freshnessSignal } from '../../../src/alerts/signals/freshnessSignal.ts';
import { qualityScoresSignal } from '../../../src/alerts/signals/qualitySignal.ts';
import { readinessSignal } from '../../../src/alerts/signals/readinessSignal.ts';
import { warehouseTestSignal } from '../../../src/alerts/signals/warehouseTestSignal.ts';
import { type Config, pgConnection } from '../../../src/config/config.ts';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { startRunnerProcess } from '../../../src/runner/runnerProcess.ts';
import { layerSchemas } from '../../../src/shop/warehouseModel.ts';
import { defineTopology } from '../../../src/topology/defineTopology.ts';
import { notNull } from '../../../src/topology/rules.ts';
import { customersSource } from '../../support/customersSource.ts';
import { readAll } from '../../support/kafkaHelpers.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';
import { createWarehouse, loadRows } from '../../support/warehouseFixture.ts';
import { gateSink } from '../../support/gateSink.ts';

/**
 * Issue 14, "Done when": each fault injected on the real stack — a stale source, a rule breaking
 * for 10 % of records, a broken warehouse relationship, a stalled runner — opens its incident on
 * the incidents topic, at a real HTTP webhook receiver (JSON and Slack-compatible) and on the
 * dashboard's incidents feed of a real runner; a restarted evaluator restores them instead of
 * reopening; removing the faults resolves each one everywhere.
 */

const ORPHAN_TEST = 'relationships gold.fact_order_items.product_key -> gold.dim_products.product_key';
const RULE = 'email_present';

/** A real webhook receiver: every POST body by path. */
async function webhookReceiver() {
  const posts: { path: string; body: Record<string, unknown> }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      posts.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString()) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    /** key → events received for it at the JSON hook, in order. */
    json(key: string): string[] {
      return posts
        .filter((p) => p.path === '/json' && (p.body.incident as Incident).key === key)
        .map((p) => String(p.body.event));
    },
    slack: () => posts.filter((p) => p.path === '/slack').map((p) => String(p.body.text)),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The dashboard's incidents feed of a runner, as a browser would read it. */
async function incidentsFeed(runnerUrl: string) {
  const latest = new Map<string, Incident>();
  const ws = new WebSocket(`${runnerUrl.replace(/^http/, 'ws')}/ws/incidents`);
  let snapshot = false;
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { type: string; incidents?: Incident[]; incident?: Incident };
    if (msg.type === 'incidents') {
      snapshot = true;
      for (const i of msg.incidents ?? []) latest.set(i.key, i);
    } else if (msg.type === 'incident' && msg.incident) latest.set(msg.incident.key, msg.incident);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await eventually(async () => snapshot, 'the incidents snapshot');
  return { status: (key: string) => latest.get(key)?.status, close: () => ws.close() };
}

/** Every record of the incidents topic, in order (tombstones left out). */
async function topicRecords(cfg: Config): Promise<Incident[]> {
  return (await readAll(cfg, cfg.incidentsTopic)).flatMap((r) => parseIncident(r.value) ?? []);
}

test('each injected fault opens its incident on the topic, the webhook and the dashboard feed, and resolves once removed', async () => {
  const base = await realStack();
  const id = uniqueName('it_alerts');
  const cfg: Config = {
    ...base,
    httpPort: 0,
    incidentsTopic: `${id}.incidents`,
    qualityTopic: `${id}.quality`,
    qualityPublishIntervalMs: 1000,
  };
  const source = `${id}.customers`;
  const clicks = `${id}.clicks`;
  const groupId = `${id}-runner`;
  const schemaPrefix = id;
  const s = layerSchemas(schemaPrefix);
  const gate = gateSink({ open: true });
  const def = defineTopology({
    name: `${id}-topology`,
    sources: [{ topic: source, schema: 'oltp.customers' }],
    rules: [notNull(RULE, 'email')],
    outputs: [{ topic: `${id}.out`, schema: 'oltp.customers', sink: () => gate.sink }],
    pipeline: ({ sources, ops }) => sources[source].pipe(ops.decode(), ops.validate([RULE]), ops.toTopic(`${id}.out`)),
  });

  const db = new pg.Client(pgConnection(cfg, cfg.warehouseDatabase));
  await db.connect();
  await createWarehouse(db, schemaPrefix);
  await loadRows(db, s);
  const { kafka, row, encode } = await customersSource(cfg, source, { clientId: 'it-alerts' });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic: clicks, partitions: 1 }], { partitions: 1, replicationFactor: 1 });
  const producer = kafka.producer();
  await producer.connect();
  let next = 0;
  /** `n` customers, every tenth without an email when `bad`. */
  const produce = (n: number, bad: boolean) =>
    producer.send({
      topic: source,
      acks: -1,
      messages: Array.from({ length: n }, () => {
        const i = next++;
        return { key: String(i), value: encode(row(i, bad && i % 10 === 0 ? { email: null } : {})) };
      }),
    });
  const click = () => producer.send({ topic: clicks, acks: -1, messages: [{ key: 's', value: 'click' }] });

  const receiver = await webhookReceiver();
  const proc = await startRunnerProcess(cfg, [def], { groupId, stallMs: 1500 });
  const readyz = `${proc.url}/readyz`;
  const sourcesOf = (): SignalSource[] => [
    freshnessSignal(cfg, {
      kafka,
      slas: [{ kind: 'topic', subject: clicks, topic: clicks, warnAfterMs: 4_000, breachAfterMs: 8_000 }],
    }),
    qualityScoresSignal(cfg, { kafka, topologies: [def], window: '5m' }),
    dlqRateSignal({ kafka, ratePerMinute: 1, windowMs: 5_000, isWatched: (t) => t === `${source}.dlq` }),
    consumerLagSignal({ kafka, groups: [groupId], growingForMs: 2_500 }),
    readinessSignal({ urls: [readyz] }),
    warehouseTestSignal(cfg, { schemaPrefix }),
  ];
  const startEvaluator = () =>
    startAlertEvaluator(cfg, {
      kafka,
      sources: sourcesOf(),
      intervalMs: 500,
      dashboardUrl: `${proc.url}/`,
      webhooks: {
        targets: [
          { url: `${receiver.url}/json`, format: 'json' },
          { url: `${receiver.url}/slack`, format: 'slack' },
        ],
        initialBackoffMs: 50,
      },
    });
  const expected = [
    `freshness_breach|${clicks}`,
    `quality_below_threshold|${source}:${RULE}`,
    `dlq_rate_high|${source}.dlq`,
    `warehouse_test_failing|${ORPHAN_TEST}`,
    `runner_not_ready|${readyz}`,
    `consumer_lag_growing|${groupId}`,
  ];
  let evaluator: AlertEvaluator | undefined;
  let feed: Awaited<ReturnType<typeof incidentsFeed>> | undefined;
  try {
    // Healthy: records flow and are committed, the click stream is fresh, the warehouse passes.
    await produce(50, false);
    await click();
    await eventually(async () => (await fetch(readyz)).status === 200, 'the runner ready');
    await eventually(async () => {
      const committed = await admin.fetchOffsets({ groupId });
      return committed[0]?.partitions.some((p) => Number(p.offset) > 0);
    }, 'offsets committed');
    evaluator = await startEvaluator();
    feed = await incidentsFeed(proc.url);
    const first = evaluator;
    await click();
    await first.evaluateNow();
    assert.deepEqual(
      first
        .incidents()
        .filter((i) => i.status === 'open')
        .map((i) => i.key),
      [],
      'nothing open while healthy',
    );

    // The faults: the clicks stop (stale source), 10 % of customers lack an email (quality, DLQ), an
    // orphan product key in the warehouse, the runner's output stalls while input keeps coming (lag, /readyz).
    gate.close();
    await db.query(
      `insert into "${s.gold}".fact_order_items (order_item_id, order_id, product_key, quantity, unit_price,
         line_amount, updated_at) values (9999, 100, 777, 1, 1.00, 1.00, now())`,
    );
    const allOpen = async () => {
      await produce(100, true);
      const open = new Set(
        first
          .incidents()
          .filter((i) => i.status === 'open')
          .map((i) => i.key),
      );
      return expected.every((k) => open.has(k));
    };
    await eventually(allOpen, `incidents open: ${expected.join(', ')}`, 90_000);
    // On the topic, at the webhooks and on the dashboard feed.
    const onTopic = await topicRecords(cfg);
    for (const key of expected) {
      const opened = onTopic.filter((i) => i.key === key && i.revision === 1);
      assert.equal(opened.length, 1, `${key} opened once (deduplicated)`);
      assert.equal(opened[0].status, 'open');
      assert.ok(Object.keys(opened[0].evidence).length > 0, `${key} has evidence`);
      assert.match(opened[0].dashboardUrl, new RegExp(`^${proc.url}/\\?incident=.*#incidents$`));
      await eventually(async () => receiver.json(key)[0] === 'incident.opened', `${key} POSTed as JSON`);
      await eventually(async () => feed?.status(key) === 'open', `${key} open on the dashboard feed`);
    }
    const slack = receiver.slack();
    for (const key of expected) {
      const subject = key.slice(key.indexOf('|') + 1);
      assert.ok(
        slack.some((t) => t.includes('OPENED') && t.includes(subject)),
        `Slack text for ${key}`,
      );
    }
    const warehouse = onTopic.find((i) => i.key === `warehouse_test_failing|${ORPHAN_TEST}`)!;
    assert.deepEqual(warehouse.evidence.examples, ['777']);

    // A restart restores from the topic: nothing is opened again.
    const before = onTopic.length;
    await first.stop();
    evaluator = await startEvaluator();
    const second = evaluator;
    assert.deepEqual(
      second
        .incidents()
        .filter((i) => i.status === 'open')
        .map((i) => i.key)
        .sort(),
      first
        .incidents()
        .filter((i) => i.status === 'open')
        .map((i) => i.key)
        .sort(),
    );
    await second.evaluateNow();
    const reopened = (await topicRecords(cfg)).slice(before).filter((i) => i.revision === 1);
    assert.deepEqual(
      reopened.map((i) => i.key),
      [],
      'no incident reopened after the restart',
    );

    // Remove the faults: clicks flow, clean customers, the orphan is gone, the output drains.
    await db.query(`delete from "${s.gold}".fact_order_items where order_item_id = 9999`);
    gate.open();
    // Clean records, twice as many as so far: the 5-minute pass rate climbs back over 95 %.
    for (let clean = 2 * next; clean > 0; clean -= 1000) await produce(Math.min(clean, 1000), false);
    const allResolved = async () => {
      await click();
      return expected.every((k) => second.incidents().find((i) => i.key === k)?.status === 'resolved');
    };
    await eventually(allResolved, 'every incident resolved', 90_000);
    const after = await topicRecords(cfg);
    for (const key of expected) {
      const records = after.filter((i) => i.key === key);
      assert.equal(records.at(-1)?.status, 'resolved', `${key} resolved last`);
      // Each opening is resolved under its own id and start (the DLQ one may open again while the
      // stalled backlog, 10 % bad, drains: a real burst of dead letters).
      for (const opened of records.filter((i) => i.revision === 1)) {
        const resolved = records.filter((i) => i.id === opened.id && i.status === 'resolved');
        assert.equal(resolved.length, 1, `${key} ${opened.id} resolved once`);
        assert.equal(resolved[0].startedAt, opened.startedAt);
      }
      await eventually(async () => receiver.json(key).at(-1) === 'incident.resolved', `${key} resolved at the webhook`);
      await eventually(async () => feed?.status(key) === 'resolved', `${key} resolved on the dashboard feed`);
    }
    assert.ok(receiver.slack().some((t) => t.includes('RESOLVED')));
  } finally {
    gate.open();
    feed?.close();
    await evaluator?.stop();
    await proc.stop();
    await producer.disconnect();
    await admin.disconnect().catch(() => {});
    await receiver.close();
    await db.end();
  }
});

for (const kafkaClient of ['kafkajs', 'platformatic'] as const)
  test(`a second evaluator on the same topic fences the first: its next write fails and it stops, no duplicate is written (${kafkaClient})`, async () => {
    const base = await realStack();
    const cfg: Config = { ...base, kafkaClient, incidentsTopic: uniqueName('it_alerts_fence') };
    const kafka = createKafkaClient(cfg, 'it-alerts-fence');
    let level = 1;
    const source: SignalSource = {
      name: 'test',
      rules: ['runner_not_ready'],
      observe: async () => [
        {
          rule: 'runner_not_ready',
          subject: 'http://runner-1:8080/readyz',
          state: 'firing',
          summary: `level ${level}`,
          evidence: { level },
        },
      ],
    };
    const start = () =>
      startAlertEvaluator(cfg, { kafka, sources: [source], loop: false, dashboardUrl: 'http://127.0.0.1:8080/' });
    const first = await start();
    let second: AlertEvaluator | undefined;
    try {
      assert.equal((await first.evaluateNow())[0]?.kind, 'opened');
      second = await start();
      assert.deepEqual(
        second.incidents().map((i) => [i.status, i.summary]),
        [['open', 'level 1']],
        'the newer evaluator restored what the first wrote',
      );
      level = 2;
      assert.deepEqual(await first.evaluateNow(), [], 'the fenced write is not reported as a change');
      assert.equal(await first.done, 1, 'the fenced evaluator stops with exit code 1');
      assert.equal((await second.evaluateNow())[0]?.kind, 'updated');
      // A commit's markers reach the partition just after the commit returns; until then a
      // read-committed reader's end (the last stable offset) may stop before the record.
      const records = await eventually(async () => {
        const r = await topicRecords(cfg);
        return r.length >= 2 ? r : undefined;
      }, 'both committed writes readable');
      assert.deepEqual(
        records.map((i) => [i.status, i.revision, i.summary]),
        [
          ['open', 1, 'level 1'],
          ['open', 2, 'level 2'],
        ],
      );
    } finally {
      await first.stop();
      await second?.stop();
    }
  });
