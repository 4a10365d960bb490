/**
 * The clickstream topology's throughput on the local stack next to its peer measured in the same
 * run: a hand-rolled kafkajs loop doing the minimum (consume, Avro decode, Avro encode, produce,
 * commit) with no rules, DLQ, metrics or commit-after-durable bookkeeping. Prints records/s of
 * both, their ratio, the runner's resident memory, and the cost of exactly-once (the same topology
 * with SLUICE_PROCESSING_GUARANTEE=exactly_once, same run). Not part of the tests.
 *
 *   node bench/topology.bench.ts [events=50000]
 */
import { randomBytes } from 'node:crypto';
import clickstream from '../topologies/clickstream.ts';
import { loadConfig } from '../src/config/config.ts';
import { loadSchema } from '../src/domain/schemas.ts';
import { buildClickstreamEvents, syntheticPrice } from '../src/shop/generate/clickstreamGenerator.ts';
import { createKafkaClient } from '../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../src/kafka/ensureTopics.ts';
import { startRunnerProcess } from '../src/runner/runnerProcess.ts';
import { createAvroSerde } from '../src/serde/avroSerde.ts';
import { createRegistryClient } from '../src/serde/schemaRegistry.ts';
import { prefixTopology } from '../src/testing/prefixTopology.ts';

const N = Number(process.argv[2] ?? 50_000);
const cfg = { ...loadConfig(), httpPort: 0, logLevel: 'error' as const };
const kafka = createKafkaClient(cfg, 'bench');
const registry = createRegistryClient(cfg);
const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
const prefix = `bench_${randomBytes(3).toString('hex')}`;
const source = `${prefix}.web.clickstream`;
const products = Array.from({ length: 50 }, (_, i) => ({ id: i + 1, price: syntheticPrice(i + 1) }));

const admin = kafka.admin();
await admin.connect();
await ensureTopics(
  admin,
  [source, `${prefix}.oltp.products`, `${prefix}.peer.out`].map((topic) => ({ topic })),
  { partitions: 3, replicationFactor: 1 },
);
const schemaId = await registry.register('web.clickstream-value', loadSchema('web.clickstream'));
const pid = await registry.register('oltp.products-value', loadSchema('oltp.products'));
const producer = kafka.producer();
await producer.connect();
await producer.send({
  topic: `${prefix}.oltp.products`,
  acks: -1,
  messages: await Promise.all(
    products.map(async (p) => ({
      key: String(p.id),
      value: await serde.encode(pid, {
        product_id: p.id,
        sku: `S${p.id}`,
        name: 'p',
        category: 'c',
        price: p.price,
        active: true,
        created_at: 1,
        updated_at: 1,
        op: 'r',
        extracted_at: 1,
      }),
    })),
  ),
});
const { messages } = buildClickstreamEvents({
  count: N,
  schemaId,
  products,
  seed: 'bench',
  baseTime: Date.now() - 3600_000,
  badRatio: 0.02,
  maxMessageBytes: cfg.maxMessageBytes,
});
for (let i = 0; i < messages.length; i += 5000)
  await producer.send({
    topic: source,
    acks: -1,
    messages: messages.slice(i, i + 5000).map((m) => ({ key: m.key, value: m.value })),
  });
await producer.disconnect();

const committed = async (groupId: string) =>
  (await admin.fetchOffsets({ groupId, topics: [source] }))[0].partitions.reduce(
    (n, p) => n + Math.max(0, Number(p.offset)),
    0,
  );
async function until(groupId: string) {
  while ((await committed(groupId)) < N) await new Promise((r) => setTimeout(r, 100));
}

// Sluice: the real topology through the runner, under each processing guarantee (exactly-once
// commits a transaction per batch per partition: its cost is the difference).
async function runSluice(guarantee: 'at_least_once' | 'exactly_once') {
  const group = `${prefix}-sluice-${guarantee}`;
  const t0 = performance.now();
  const proc = await startRunnerProcess(
    { ...cfg, processingGuarantee: guarantee },
    [prefixTopology(clickstream, prefix)],
    { groupId: group, feed: false, maxInFlightPerPartition: Number(process.env.BENCH_MAX_IN_FLIGHT ?? 10_000) },
  );
  const startupSeconds = (performance.now() - t0) / 1000;
  const doneAtReady = await committed(group);
  let rss = 0;
  const sampler = setInterval(() => {
    rss = Math.max(rss, process.memoryUsage().rss);
  }, 100);
  await until(group);
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  await proc.stop();
  // Steady state: records committed after the runner was up, over the time after it was up.
  return {
    seconds,
    startupSeconds,
    steadyRate: Math.round((N - doneAtReady) / Math.max(0.001, seconds - startupSeconds)),
    rss,
  };
}
// `--only at_least_once`: the Sluice run alone, e.g. for a CPU profile:
//   node --cpu-prof bench/topology.bench.ts 50000 --only at_least_once
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
if (only === 'at_least_once' || only === 'exactly_once') {
  const r = await runSluice(only);
  process.stdout.write(
    `${JSON.stringify({ guarantee: only, events: N, recordsPerSecond: Math.round(N / r.seconds), steady: r.steadyRate, rssMiB: Math.round(r.rss / 2 ** 20) })}\n`,
  );
  process.exit(0);
}
const alos = await runSluice('at_least_once');
const eos = await runSluice('exactly_once');
const sluiceSeconds = alos.seconds;
const startupSeconds = alos.startupSeconds;
const steadyRate = alos.steadyRate;
const rss = Math.max(alos.rss, eos.rss);

// Peer: a hand-rolled kafkajs loop.
const peerGroup = `${prefix}-peer`;
const out = kafka.producer();
await out.connect();
const consumer = kafka.consumer({ groupId: peerGroup });
await consumer.connect();
await consumer.subscribe({ topic: source, fromBeginning: true });
const t0 = performance.now();
await consumer.run({
  autoCommit: false,
  eachBatch: async ({ batch }) => {
    const outgoing = [];
    for (const m of batch.messages) {
      try {
        const { value, schemaId: id } = await serde.decode(m.value);
        outgoing.push({ key: m.key, value: serde.encodeSync(id, value) });
      } catch {
        /* a loop like this drops bad records */
      }
    }
    if (outgoing.length) await out.send({ topic: `${prefix}.peer.out`, acks: -1, messages: outgoing });
    await consumer.commitOffsets([
      { topic: batch.topic, partition: batch.partition, offset: String(BigInt(batch.lastOffset()) + 1n) },
    ]);
  },
});
await until(peerGroup);
const peerSeconds = (performance.now() - t0) / 1000;
await consumer.disconnect();
await out.disconnect();
await admin.disconnect();

const result = {
  bench: 'clickstream topology vs hand-rolled kafkajs loop',
  events: N,
  sluiceRecordsPerSecond: Math.round(N / sluiceSeconds),
  sluiceSteadyRecordsPerSecond: steadyRate,
  sluiceStartupSeconds: Number(startupSeconds.toFixed(2)),
  peerRecordsPerSecond: Math.round(N / peerSeconds),
  ratio: Number((peerSeconds / sluiceSeconds).toFixed(2)),
  sluiceRssMiB: Math.round(rss / 2 ** 20),
  exactlyOnceRecordsPerSecond: Math.round(N / eos.seconds),
  exactlyOnceSteadyRecordsPerSecond: eos.steadyRate,
  exactlyOnceVsAtLeastOnce: Number((alos.seconds / eos.seconds).toFixed(2)),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
