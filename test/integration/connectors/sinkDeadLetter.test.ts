import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { parseWarehouseSinkConfig } from '../../../connectors/postgres/warehouse/config.ts';
import {
  createWarehouseSinkConnector,
  type WarehouseSinkConnector,
} from '../../../connectors/postgres/warehouse/sink.ts';
import { OFFSETS_SCHEMA, OFFSETS_TABLE } from '../../../connectors/postgres/warehouse/storedOffsets.ts';
import { parseS3SinkConfig } from '../../../connectors/s3/config.ts';
import { parseObjectKey } from '../../../connectors/s3/layout.ts';
import { createS3SinkConnector } from '../../../connectors/s3/s3SinkConnector.ts';
import { pgConnection, type Config } from '../../../src/config/config.ts';
import { loadSchema, loadType } from '../../../src/domain/schemas.ts';
import type { Customer, Order } from '../../../src/domain/types.generated.ts';
import { createKafkaClient, type KafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { startRunnerProcess } from '../../../src/runner/runnerProcess.ts';
import { createS3Client } from '../../../src/s3/s3Client.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { prefixTopology } from '../../../src/testing/prefixTopology.ts';
import { defineTopology } from '../../../src/topology/defineTopology.ts';
import type {
  Ack,
  Output,
  SinkContext,
  SinkRecordError,
  SourceRecord,
  TopologyDefinition,
} from '../../../src/topology/types.ts';
import {
  deadLetterSinkNames,
  lakeDeadLetterTopology,
  warehouseDeadLetterTopology,
} from '../../support/deadLetterTopologies.ts';
import { readAll, type ReadRecord } from '../../support/kafkaHelpers.ts';
import { IN_TX_MARKER, READY_MARKER } from '../../support/runWarehouseChild.ts';
import { listLakeKeys, readLake, readLakeObject } from '../../support/lake.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

/*
 * Sinks dead-letter the records they can never take (Kafka Connect's errors.tolerance=all):
 * before, one such record failed its whole batch and stopped the runner (README "Known limits").
 */

// ---- data: 2,000 orders over three partitions, a few of them poison

const T0 = Date.UTC(2026, 3, 2, 10, 0);
const ORDERS = 2000;
/** A NUL byte in `status`: Postgres text can never hold one (22021, caught before any round trip). */
const POISON_NUL = [17, 1000, 1999];
/**
 * total_amount of a million or more: valid Avro, too wide for the narrowed orders.total_amount
 * (22003 in the merge).
 */
const POISON_OVERFLOW = [250, 253, 1337, 1998];
const POISON = new Set([...POISON_NUL, ...POISON_OVERFLOW]);

// order_id 1999 is the last record of partition 0 and 1998 the last of partition 2: the stored
// offsets must still reach the ends of those partitions.
const partitionOf = (id: number) => (id - 1) % 3;

function orderOf(id: number): Order {
  return {
    order_id: id,
    customer_id: 1 + (id % 50),
    status: POISON_NUL.includes(id) ? 'pa\u0000id' : ['pending', 'paid', 'shipped'][id % 3],
    total_amount: POISON_OVERFLOW.includes(id) ? `${1_000_000 + id}.50` : `${id}.${String(id % 100).padStart(2, '0')}`,
    currency: 'EUR',
    ordered_at: T0 + id * 1000,
    updated_at: T0 + id * 1000,
    op: 'c',
    extracted_at: T0 + id * 1000 + 500,
  } as Order;
}

interface Produced {
  id: number;
  partition: number;
  key: string;
  value: Buffer;
}

async function produceOrders(
  cfg: Config,
  kafka: KafkaClient,
  topic: string,
  ids: number[],
): Promise<Map<number, Produced>> {
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, partitions: 3 }], { partitions: 3, replicationFactor: 1 });
  await admin.disconnect();
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const schemaId = await registry.register('silver.orders-value', loadSchema('silver.orders'));
  const produced = new Map<number, Produced>();
  for (const id of ids)
    produced.set(id, {
      id,
      partition: partitionOf(id),
      key: String(id),
      value: await serde.encode(schemaId, orderOf(id)),
    });
  const producer = kafka.producer();
  await producer.connect();
  const all = [...produced.values()];
  for (let i = 0; i < all.length; i += 500) {
    await producer.send({
      topic,
      acks: -1,
      messages: all
        .slice(i, i + 500)
        .map((p) => ({ partition: p.partition, key: p.key, value: p.value, timestamp: String(T0) })),
    });
  }
  await producer.disconnect();
  return produced;
}

async function topicEnds(kafka: KafkaClient, topic: string): Promise<Map<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high]));
  } finally {
    await admin.disconnect();
  }
}

async function storedOffsets(client: pg.Client, sink: string, topic: string): Promise<Map<number, string>> {
  const { rows } = await client.query<{ partition: number; next_offset: string }>(
    `select partition, next_offset::text as next_offset from "${OFFSETS_SCHEMA}"."${OFFSETS_TABLE}" where sink = $1 and topic = $2`,
    [sink, topic],
  );
  return new Map(rows.map((r) => [r.partition, r.next_offset]));
}

/** Both sinks' stored offsets are at the ends of every partition of the topic. */
async function offsetsAtEnds(client: pg.Client, kafka: KafkaClient, schema: string, topic: string): Promise<boolean> {
  const ends = await topicEnds(kafka, topic);
  for (const sink of Object.values(deadLetterSinkNames(schema))) {
    const stored = await storedOffsets(client, sink, topic);
    for (const [p, high] of ends) if (stored.get(p) !== high) return false;
  }
  return true;
}

async function dlqRecords(cfg: Config, kafka: KafkaClient, topic: string): Promise<ReadRecord[]> {
  const ends = await topicEnds(kafka, topic).catch(() => new Map<number, string>());
  if (![...ends.values()].some((h) => h !== '0')) return [];
  return readAll(cfg, topic, kafka);
}

function assertSinkDeadLetter(r: ReadRecord, p: Produced, source: string, schema: string): void {
  const names = deadLetterSinkNames(schema);
  const nul = POISON_NUL.includes(p.id);
  const what = `dead letter of order ${p.id}`;
  assert.equal(r.headers['sluice.error.reason'], 'sink', what);
  // The NUL is found by the first table of the group; the overflow only by the narrowed one.
  assert.equal(r.headers['sluice.error.sink'], nul ? names.log : names.orders, what);
  assert.equal(r.headers['sluice.error.sink.code'], nul ? '22021' : '22003', what);
  assert.match(r.headers['sluice.error.message'], nul ? /0x00/ : /numeric field overflow/, what);
  assert.equal(r.headers['sluice.error.topic'], source, what);
  assert.equal(r.headers['sluice.error.partition'], String(p.partition), what);
  assert.equal(r.key, p.key, `${what}: the original key`);
  assert.ok(r.value?.equals(p.value), `${what}: the original bytes`);
}

/** The warehouse tables hold every good order exactly once and no poison. */
async function assertTablesHoldTheGoodOrders(client: pg.Client, schema: string): Promise<void> {
  const good = Array.from({ length: ORDERS }, (_, i) => i + 1).filter((id) => !POISON.has(id));
  const { rows: log } = await client.query<{ n: number; d: number }>(
    `select count(*)::int as n, count(distinct (_topic, _partition, _offset))::int as d from "${schema}".orders_log`,
  );
  assert.deepEqual(log[0], { n: good.length, d: good.length }, 'orders_log: one row per good record');
  const { rows: logIds } = await client.query<{ id: string }>(
    `select order_id::text as id from "${schema}".orders_log order by order_id`,
  );
  assert.deepEqual(
    logIds.map((r) => Number(r.id)),
    good,
    'orders_log: the good orders, no poison',
  );
  const { rows: orders } = await client.query<{ id: string; status: string; amount: string }>(
    `select order_id::text as id, status, total_amount::text as amount from "${schema}".orders order by order_id`,
  );
  assert.deepEqual(
    orders.map((r) => [Number(r.id), r.status, r.amount]),
    good.map((id) => {
      const o = orderOf(id);
      return [id, o.status, o.total_amount];
    }),
    'orders: every good order with its values',
  );
}

/** The topology with each sink factory wrapped to keep the connectors the runner makes (the test reads their stats). */
function keepingConnectors(def: TopologyDefinition, made: WarehouseSinkConnector[]): TopologyDefinition {
  return defineTopology({
    ...def,
    outputs: def.outputs.map((o) => {
      const make = o.sink;
      if (!make) return o;
      return {
        ...o,
        sink: (ctx: SinkContext) => {
          const connector = make(ctx) as WarehouseSinkConnector;
          made.push(connector);
          return connector;
        },
      };
    }),
  });
}

function pgClient(cfg: Config): pg.Client {
  return new pg.Client(pgConnection(cfg, cfg.warehouseDatabase));
}

async function dropWarehouse(client: pg.Client, schema: string): Promise<void> {
  await client.query(`drop schema if exists "${schema}" cascade`);
  await client.query(`delete from "${OFFSETS_SCHEMA}"."${OFFSETS_TABLE}" where sink like $1`, [`${schema}.%`]);
}

const ceilLog2 = (n: number) => Math.ceil(Math.log2(n));

// ---- warehouse through a runner

const WAREHOUSE_POISON_TITLE =
  'warehouse: poison rows go to <source>.dlq with reason sink and their SQLSTATE, every good row lands ' +
  'once, the runner keeps running, isolation costs O(log n) transactions';
test(WAREHOUSE_POISON_TITLE, {
  timeout: 180_000,
}, async () => {
  const cfg: Config = { ...(await realStack()), httpPort: 0 };
  const prefix = uniqueName('it');
  const schema = uniqueName('it_dl');
  const source = `${prefix}.silver.orders`;
  const dlq = `${source}.dlq`;
  const names = deadLetterSinkNames(schema);
  const kafka = createKafkaClient(cfg, 'it-sink-dl');
  const client = pgClient(cfg);
  await client.connect();
  const produced = await produceOrders(
    cfg,
    kafka,
    source,
    Array.from({ length: ORDERS }, (_, i) => i + 1),
  );
  const connectors: WarehouseSinkConnector[] = [];
  const def = keepingConnectors(prefixTopology(warehouseDeadLetterTopology({ schema }), prefix), connectors);
  const proc = await startRunnerProcess(cfg, [def], { groupId: uniqueName('it-sink-dl'), commitIntervalMs: 200 });
  let exitCode: number | undefined;
  void proc.done.then((c) => {
    exitCode = c;
  });
  try {
    await eventually(
      async () =>
        exitCode !== undefined ||
        ((await offsetsAtEnds(client, kafka, schema, source)) &&
          (await dlqRecords(cfg, kafka, dlq)).length >= POISON.size),
      'warehouse offsets at the topic ends and the poison in the DLQ',
      120_000,
    );
    assert.equal(exitCode, undefined, 'the runner is still running');
    assert.ok(proc.runners[0].status().running);

    const dead = await dlqRecords(cfg, kafka, dlq);
    assert.deepEqual(
      dead.map((r) => Number(r.key)).sort((a, b) => a - b),
      [...POISON].sort((a, b) => a - b),
      'each poison record once in the DLQ, nothing else',
    );
    for (const r of dead) assertSinkDeadLetter(r, produced.get(Number(r.key))!, source, schema);

    await assertTablesHoldTheGoodOrders(client, schema);
    const landed = (await client.query<{ n: number }>(`select count(*)::int as n from "${schema}".orders`)).rows[0].n;
    assert.equal(landed + dead.length, ORDERS, 'input = landed + dead-lettered');

    const stats = Object.fromEntries(
      connectors.filter((s) => s.name === names.log || s.name === names.orders).map((s) => [s.name, s.stats]),
    );
    for (const name of [names.log, names.orders]) {
      const st = stats[name];
      assert.ok(st, `stats of ${name}`);
      assert.equal(
        st.deadLettered,
        POISON.size,
        `${name}: its outputs of the poison records are counted as dead-lettered`,
      );
      assert.equal(st.failures, 0, `${name}: no flush given up`);
      assert.ok(st.isolations >= 1 && st.isolations <= POISON.size, `${name}: ${st.isolations} isolations`);
      // Bisection: a server-side poison row costs at most 2·⌈log2 n⌉ + 1 transactions (n: the
      // batch, never more than the input); a NUL row none, it only cuts its batch in one more
      // run; plus one offsets-only transaction per isolation. Row by row: one per row.
      const bound =
        POISON_OVERFLOW.length * (2 * ceilLog2(ORDERS) + 1) + (POISON_NUL.length + 1) * st.isolations + st.isolations;
      assert.ok(
        st.isolationTransactions <= bound,
        `${name}: ${st.isolationTransactions} isolation transactions, at most ${bound}`,
      );
    }
    console.log(
      `# ${POISON_OVERFLOW.length} server-side and ${POISON_NUL.length} client-side poison rows in ${ORDERS}: ${stats[names.orders].isolations} isolations, ${stats[names.orders].isolationTransactions} isolation transactions, ${stats[names.orders].transactions} transactions in all`,
    );

    const metrics = await (await fetch(`${proc.url}/metrics`)).text();
    const line = metrics
      .split('\n')
      .find(
        (l) =>
          l.startsWith('sluice_records_dlq_total{') && l.includes(`topic="${source}"`) && l.includes('reason="sink"'),
      );
    assert.ok(line?.endsWith(` ${POISON.size}`), `/metrics counts the sink dead letters: ${line}`);
  } finally {
    await proc.stop();
    await dropWarehouse(client, schema);
    await client.end();
  }
});

const WAREHOUSE_FAIL_TITLE =
  'warehouse with SLUICE_SINK_ERRORS=fail: a poison row stops the runner (exit 1), nothing ' +
  'dead-lettered, the offsets stay below the poison';
test(WAREHOUSE_FAIL_TITLE, {
  timeout: 120_000,
}, async () => {
  const cfg: Config = { ...(await realStack()), httpPort: 0, sinkErrors: 'fail' };
  const prefix = uniqueName('it');
  const schema = uniqueName('it_dl');
  const source = `${prefix}.silver.orders`;
  const kafka = createKafkaClient(cfg, 'it-sink-dl-fail');
  const client = pgClient(cfg);
  await client.connect();
  // Orders 1–300 hold three poison records: 17 (NUL; partition 1, offset 5), 250 and 253
  // (overflows; partition 0, offsets 83 and 84).
  await produceOrders(
    cfg,
    kafka,
    source,
    Array.from({ length: 300 }, (_, i) => i + 1),
  );
  const def = prefixTopology(warehouseDeadLetterTopology({ schema }), prefix);
  const proc = await startRunnerProcess(cfg, [def], { groupId: uniqueName('it-sink-dl-fail'), commitIntervalMs: 200 });
  try {
    assert.equal(await proc.done, 1, 'fatal: the runner stops with a non-zero exit code');
    assert.deepEqual(await dlqRecords(cfg, kafka, `${source}.dlq`), [], 'nothing dead-lettered');
    const { rows } = await client.query(
      `select order_id from "${schema}".orders_log where order_id in (17, 250, 253) union all select order_id from "${schema}".orders where order_id in (17, 250, 253)`,
    );
    assert.deepEqual(rows, [], 'the poison rows are in no table');
    for (const sink of Object.values(deadLetterSinkNames(schema))) {
      const stored = await storedOffsets(client, sink, source);
      assert.ok(
        BigInt(stored.get(0) ?? '0') <= 83n,
        `${sink}: partition 0 stored offset ${stored.get(0)} does not pass the poison at 83`,
      );
      assert.ok(
        BigInt(stored.get(1) ?? '0') <= 5n,
        `${sink}: partition 1 stored offset ${stored.get(1)} does not pass the poison at 5`,
      );
    }
  } finally {
    await proc.stop();
    await dropWarehouse(client, schema);
    await client.end();
  }
});

// ---- warehouse connector: replays, and no dead-letter queue

const CONNECTOR_REPLAY_TITLE =
  'warehouse connector: a replay of dead-lettered records is skipped, not dead-lettered again; without ' +
  'a dead-letter queue the batch fails as before';
test(CONNECTOR_REPLAY_TITLE, {
  timeout: 60_000,
}, async () => {
  const cfg = await realStack();
  const schema = uniqueName('it_dl');
  const client = pgClient(cfg);
  await client.connect();
  const sinkConfig = parseWarehouseSinkConfig({
    avroSchema: 'silver.orders',
    schema,
    table: 'orders_log',
    mode: 'append',
    connection: pgConnection(cfg, cfg.warehouseDatabase),
    lingerMs: 10,
    setupSql: [`alter table "${schema}"."orders_log" alter column total_amount type numeric(8,2)`],
  });
  const outcome = new Map<number, 'released' | 'failed'>();
  const output = (offset: number, order: Order): Output => ({
    topic: 'wh.orders_log',
    key: String(order.order_id),
    value: order,
    timestamp: T0,
    acks: [
      {
        retain() {},
        release() {
          outcome.set(offset, 'released');
        },
        fail() {
          outcome.set(offset, 'failed');
        },
      },
    ],
    source: {
      topic: 'it.orders',
      partition: 0,
      offset: String(offset),
      key: Buffer.from(String(order.order_id)),
      value: Buffer.from('v'),
      headers: {},
      timestamp: T0,
    },
  });
  // Offsets 0–9: orders 10–19, with a NUL (order 17 → offset 7) and an overflow (order 250 at offset 4).
  const batch = () => Array.from({ length: 10 }, (_, i) => output(i, i === 4 ? orderOf(250) : orderOf(10 + i)));
  const run = async (ctx: SinkContext, outputs: Output[]) => {
    const sink = createWarehouseSinkConnector(sinkConfig, ctx);
    await sink.connect();
    for (const o of outputs) sink.add(o);
    await sink.flush();
    await sink.close(5000);
    return sink.stats;
  };
  const rows = async () =>
    (
      await client.query<{ id: string }>(`select order_id::text as id from "${schema}".orders_log order by order_id`)
    ).rows.map((r) => Number(r.id));
  try {
    const first = deadLetterContext();
    const s1 = await run(first.ctx, batch());
    assert.deepEqual(
      first.dead.map((d) => [d.offset, d.error.code]),
      [
        [4, '22003'],
        [7, '22021'],
      ],
    );
    assert.deepEqual(await rows(), [10, 11, 12, 13, 15, 16, 18, 19]);
    assert.equal(s1.deadLettered, 2);
    assert.deepEqual([...outcome.values()].filter((v) => v === 'released').length, 10);
    assert.equal((await storedOffsets(client, `${schema}.orders_log`, 'it.orders')).get(0), '10');

    // The restart re-reads offsets 0–9 (e.g. from an older Kafka commit): nothing is written or dead-lettered twice.
    outcome.clear();
    const second = deadLetterContext();
    const s2 = await run(second.ctx, batch());
    assert.deepEqual(second.dead, [], 'no dead letter sent again');
    assert.equal(s2.skippedReplays, 10);
    assert.equal([...outcome.values()].filter((v) => v === 'released').length, 10, 'the replays are acknowledged');
    assert.deepEqual(await rows(), [10, 11, 12, 13, 15, 16, 18, 19]);

    // No dead-letter queue (no runner): a refused row fails its whole batch, as before.
    outcome.clear();
    const s3 = await run({ topology: 'it', schemaFor: loadType, schemaIds: new Map() }, [
      output(10, orderOf(20)),
      output(11, orderOf(17)),
      output(12, orderOf(21)),
    ]);
    assert.deepEqual([...outcome.entries()].sort(), [
      [10, 'failed'],
      [11, 'failed'],
      [12, 'failed'],
    ]);
    assert.equal(s3.failures, 1);
    assert.deepEqual(await rows(), [10, 11, 12, 13, 15, 16, 18, 19]);
  } finally {
    await dropWarehouse(client, schema);
    await client.end();
  }
});

// ---- warehouse: SIGKILL while isolating, restart

const CHILD = fileURLToPath(new URL('../../support/runSinkDeadLetterChild.ts', import.meta.url));

interface Child {
  proc: ChildProcess;
  lines: string[];
  nextLine(prefix: string, after: number, timeoutMs: number): Promise<string>;
  exited: Promise<number | null>;
}

function startChild(args: string[], env: Record<string, string>): Child {
  const proc = spawn(process.execPath, [CHILD, ...args], {
    env: { ...process.env, SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? 'error', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const l of [...listeners]) l();
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    lines,
    exited,
    /** The first line starting with `prefix` at index `after` or later. */
    nextLine(prefix, after, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.slice(after).find((l) => l.startsWith(prefix));
          if (!found) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`child: no "${prefix}" line within ${timeoutMs}ms; stderr: ${stderr}`));
        }, timeoutMs);
        listeners.add(check);
        void exited.then((code) => {
          if (listeners.delete(check)) {
            clearTimeout(timer);
            reject(new Error(`child exited (${code}) before "${prefix}"; stderr: ${stderr}`));
          }
        });
        check();
      });
    },
  };
}

async function kill(child: Child): Promise<void> {
  child.proc.kill('SIGKILL');
  await child.exited;
}

const WAREHOUSE_SIGKILL_TITLE =
  'warehouse SIGKILLed while isolating poison rows, restarted: every good row once, every poison in ' +
  'the DLQ, offsets at the ends';
test(WAREHOUSE_SIGKILL_TITLE, {
  timeout: 300_000,
}, async () => {
  const cfg = await realStack();
  const prefix = uniqueName('it');
  const schema = uniqueName('it_dl');
  const source = `${prefix}.silver.orders`;
  const dlq = `${source}.dlq`;
  const kafka = createKafkaClient(cfg, 'it-sink-dl-kill');
  const client = pgClient(cfg);
  await client.connect();
  const produced = await produceOrders(
    cfg,
    kafka,
    source,
    Array.from({ length: ORDERS }, (_, i) => i + 1),
  );
  const children: Child[] = [];
  // Fresh consumer groups: with no Kafka commit to fall back on, only the warehouse's stored
  // offsets keep a restart from re-reading the topic from the beginning.
  const run = (env: Record<string, string> = {}) => {
    const child = startChild([prefix, schema, uniqueName('it-sink-dl-kill')], env);
    children.push(child);
    return child;
  };
  try {
    // 1. Every committing transaction lingers a moment before COMMIT; once a dead letter is in
    //    the DLQ, the process dies in the next one (the sink is still isolating or loading).
    const first = run({ SLUICE_TEST_PAUSE_BEFORE_COMMIT_MS: '300' });
    await first.nextLine(READY_MARKER, 0, 60_000);
    await eventually(async () => (await dlqRecords(cfg, kafka, dlq)).length > 0, 'a first dead letter', 90_000);
    const marker = await first.nextLine(IN_TX_MARKER, first.lines.length, 60_000);
    await kill(first);
    const deadAtKill = (await dlqRecords(cfg, kafka, dlq)).length;
    const landedAtKill = (await client.query<{ n: number }>(`select count(*)::int as n from "${schema}".orders_log`))
      .rows[0].n;
    console.log(
      `# killed in a transaction of ${JSON.parse(marker.slice(IN_TX_MARKER.length + 1)).rows} rows, with ${landedAtKill} rows landed and ${deadAtKill} dead letters`,
    );
    assert.ok(landedAtKill < ORDERS - POISON.size, 'killed before everything landed');

    // 2. A clean run to the end.
    const second = run();
    await second.nextLine(READY_MARKER, 0, 60_000);
    await eventually(
      async () =>
        (await offsetsAtEnds(client, kafka, schema, source)) &&
        new Set((await dlqRecords(cfg, kafka, dlq)).map((r) => r.key)).size >= POISON.size,
      'all rows landed or dead-lettered after the restart',
      150_000,
    );
    await assertTablesHoldTheGoodOrders(client, schema);
    const dead = await dlqRecords(cfg, kafka, dlq);
    // Dead letters are at least once (Kafka to Kafka): one that was durable before the kill but
    // not yet covered by the stored offsets is sent again by the restart.
    assert.deepEqual(
      [...new Set(dead.map((r) => Number(r.key)))].sort((a, b) => a - b),
      [...POISON].sort((a, b) => a - b),
      'every poison record in the DLQ, nothing else',
    );
    for (const r of dead) assertSinkDeadLetter(r, produced.get(Number(r.key))!, source, schema);
    console.log(`# after the restart: ${dead.length} dead letters for ${POISON.size} poison records`);

    second.proc.kill('SIGTERM');
    assert.equal(await second.exited, 0, 'graceful stop after the restart');
  } finally {
    for (const ch of children) if (ch.proc.exitCode === null && ch.proc.signalCode === null) await kill(ch);
    await dropWarehouse(client, schema);
    await client.end();
  }
});

// ---- S3

const customerOf = (i: number, country: string): Customer =>
  ({
    customer_id: i,
    email: `c${i}@shop.test`,
    full_name: `C ${i}`,
    country,
    created_at: 1,
    updated_at: 2,
    op: 'c',
    extracted_at: 3,
  }) as Customer;

const S3_POISON_TITLE =
  'S3: a record its object cannot encode goes to the DLQ with reason sink, the rest of its batch ' +
  'lands, the object is named after its first written record';
test(S3_POISON_TITLE, {
  timeout: 120_000,
}, async () => {
  const cfg: Config = { ...(await realStack()), httpPort: 0 };
  const prefix = uniqueName('it');
  const source = `${prefix}.silver.customers`;
  const dlq = `${source}.dlq`;
  const kafka = createKafkaClient(cfg, 'it-sink-dl-s3');
  const s3 = createS3Client(cfg);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic: source, partitions: 3 }], { partitions: 3, replicationFactor: 1 });
  await admin.disconnect();
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const id = await registry.register('silver.customers-value', loadSchema('silver.customers'));
  // 600 customers, 200 per partition; an empty country (poison) for the first record of
  // partition 0 (customer 0, offset 0) and for customers 301 and 599.
  const poison = new Set([0, 301, 599]);
  const t0 = Date.UTC(2026, 3, 2, 11, 0);
  const messages = await Promise.all(
    Array.from({ length: 600 }, async (_, i) => ({
      partition: i % 3,
      key: String(i),
      value: await serde.encode(id, customerOf(i, poison.has(i) ? '' : 'DE')),
      timestamp: String(t0 + i),
    })),
  );
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: source, acks: -1, messages });
  await producer.disconnect();

  const groupId = uniqueName('it-sink-dl-s3');
  const proc = await startRunnerProcess(cfg, [lakeDeadLetterTopology(prefix)], { groupId, commitIntervalMs: 200 });
  let exitCode: number | undefined;
  void proc.done.then((c) => {
    exitCode = c;
  });
  try {
    const lakePrefix = `staging/${source}/`;
    const landed = await eventually(
      async () => {
        if (exitCode !== undefined) return true;
        const objects = await readLake(s3, cfg.s3Bucket, lakePrefix);
        return objects.reduce((n, o) => n + o.records.length, 0) >= 600 - poison.size &&
          (await dlqRecords(cfg, kafka, dlq)).length >= poison.size
          ? objects
          : undefined;
      },
      'every good record in the lake and the poison in the DLQ',
      90_000,
    );
    assert.equal(exitCode, undefined, 'the runner is still running');
    assert.ok(Array.isArray(landed));

    const ids = landed.flatMap((o) => o.records.map((r) => Number((r as Customer).customer_id))).sort((a, b) => a - b);
    assert.deepEqual(
      ids,
      Array.from({ length: 600 }, (_, i) => i).filter((i) => !poison.has(i)),
      'every good record once, no poison',
    );
    for (const o of landed) {
      const parsed = parseObjectKey(o.key)!;
      assert.equal(
        o.meta['sluice.first.offset'],
        parsed.startOffset.toString(),
        `${o.key}: named after its first record`,
      );
    }
    const p0 = landed
      .map((o) => parseObjectKey(o.key)!)
      .filter((k) => k.partition === 0)
      .map((k) => k.startOffset)
      .sort((a, b) => Number(a - b));
    assert.equal(
      p0[0],
      1n,
      'partition 0 begins at offset 1: offset 0 was dead-lettered, the first written record names the object',
    );

    const dead = await dlqRecords(cfg, kafka, dlq);
    assert.deepEqual(
      dead.map((r) => Number(r.key)).sort((a, b) => a - b),
      [...poison].sort((a, b) => a - b),
    );
    for (const r of dead) {
      const i = Number(r.key);
      assert.equal(r.headers['sluice.error.reason'], 'sink');
      assert.equal(r.headers['sluice.error.sink'], 's3-staging-dl');
      assert.equal(r.headers['sluice.error.partition'], String(i % 3));
      assert.ok(r.value?.equals(messages[i].value), `dead letter of customer ${i}: the original bytes`);
    }
    await eventually(
      async () => {
        const admin2 = kafka.admin();
        await admin2.connect();
        try {
          const [committed] = await admin2.fetchOffsets({ groupId, topics: [source] });
          return committed.partitions.every((p) => p.offset === '200');
        } finally {
          await admin2.disconnect();
        }
      },
      'every partition committed to its end',
      30_000,
    );
  } finally {
    await proc.stop();
    s3.destroy();
  }
});

/** A SinkContext whose deadLetter plays the runner: it records the call and releases the acks (dead letter durable). */
function deadLetterContext(): { ctx: SinkContext; dead: { offset: number; error: SinkRecordError }[] } {
  const dead: { offset: number; error: SinkRecordError }[] = [];
  return {
    dead,
    ctx: {
      topology: 'it',
      schemaFor: loadType,
      schemaIds: new Map(),
      deadLetter(output, error) {
        dead.push({ offset: Number(output.source!.offset), error });
        for (const a of output.acks) a.release();
      },
    },
  };
}

const S3_REPLAY_TITLE =
  'S3 replays name their objects as the first run did, and a replay inside an object dead-letters its ' +
  'poison again instead of skipping it';
test(S3_REPLAY_TITLE, {
  timeout: 60_000,
}, async () => {
  const cfg = await realStack();
  const s3 = createS3Client(cfg);
  const topic = `${uniqueName('it')}.silver.customers`;
  const t0 = Date.UTC(2026, 3, 2, 12, 0);
  const poison = new Set([0, 30]);
  let released = 0;
  const failed: unknown[] = [];
  const ack: Ack = {
    retain() {},
    release() {
      released++;
    },
    fail(err) {
      failed.push(err);
    },
  };
  const feed = (sink: ReturnType<typeof createS3SinkConnector>, from: number, to: number) => {
    for (let o = from; o < to; o++) {
      const source: SourceRecord = {
        topic,
        partition: 0,
        offset: String(o),
        key: Buffer.from(`k${o}`),
        value: Buffer.from(`v${o}`),
        headers: {},
        timestamp: t0 + o,
      };
      // The poison: a null country, which the writer schema refuses.
      const value = { ...customerOf(o, 'DE'), country: poison.has(o) ? null : 'DE' };
      sink.add({
        topic: 'lake.out',
        key: source.key,
        value,
        schemaSubjectTopic: 'silver.customers',
        acks: [ack],
        source,
      } as Output);
    }
  };
  const runOnce = async (from: number) => {
    const { ctx, dead } = deadLetterContext();
    const sink = createS3SinkConnector(parseS3SinkConfig({ zone: 'staging', rollRecords: 20, idleCloseMs: 0 }), ctx, {
      client: s3,
      config: cfg,
    });
    await sink.connect();
    released = 0;
    feed(sink, from, 60);
    await sink.flush();
    await sink.close(5000);
    return { dead, stats: sink.stats, keys: (await listLakeKeys(s3, cfg.s3Bucket, `staging/${topic}/`)).sort() };
  };
  try {
    // Run 1: 0 and 30 are dead-lettered; objects start at 1 (0 is not in it), 21 and 42.
    const run1 = await runOnce(0);
    assert.deepEqual(
      run1.dead.map((d) => d.offset),
      [0, 30],
    );
    assert.equal(run1.dead[0].error.sink, 's3-staging');
    assert.equal(run1.stats.deadLettered, 2);
    assert.equal(run1.stats.rows, 58);
    assert.equal(released, 60, '58 acknowledged by their objects, 2 by the dead-letter queue (the stub runner)');
    assert.deepEqual(
      run1.keys.map((k) => parseObjectKey(k)!.startOffset),
      [1n, 21n, 42n],
    );

    // Run 2: a restart from offset 0 writes the same names again (no extra object).
    const run2 = await runOnce(0);
    assert.deepEqual(
      run2.dead.map((d) => d.offset),
      [0, 30],
    );
    assert.deepEqual(run2.keys, run1.keys, 'same object names on replay');

    // Run 3: a replay from 25, inside the object 21–41 which does not hold 30: the records it
    // holds are acknowledged without a rewrite, the poison is dead-lettered again (its dead
    // letter may never have become durable), not acknowledged as if it were in the object.
    const run3 = await runOnce(25);
    assert.deepEqual(
      run3.dead.map((d) => d.offset),
      [30],
    );
    assert.equal(run3.stats.skippedRecords, 16, '25–41 without 30');
    assert.deepEqual(run3.keys, run1.keys);

    assert.deepEqual(failed, [], 'no record failed');
    const records = (await Promise.all(run1.keys.map((k) => readLakeObject(s3, cfg.s3Bucket, k)))).flatMap((o) =>
      o.records.map((r) => Number((r as Customer).customer_id)),
    );
    assert.deepEqual(
      records.sort((a, b) => a - b),
      Array.from({ length: 60 }, (_, i) => i).filter((i) => !poison.has(i)),
      'each good record once',
    );
  } finally {
    s3.destroy();
  }
});
