/**
 * The clickstream topology's throughput next to its peers, on the same topic in the same run:
 * Sluice (the real topology through the runner, defaults, at-least-once), a bare loop with each
 * Node client (kafkajs, @platformatic/kafka) and Kafka Streams (bench/kstreams, one stream
 * thread), each its own process doing the same work per record (bench/peers/clickFilter.ts).
 * Runs are interleaved over `--rounds`; each peer's median is reported: records/s, CPU-s per
 * 100k records and peak RSS, and Sluice's ratios to each peer. Sluice under exactly-once runs
 * once per round too (its cost is the difference). Not part of the tests.
 *
 *   node bench/topology.bench.ts [events=100000] [--rounds 2] [--only <peer>]   (peers: see PEERS)
 *
 * For CPU profiles of the Node peers: BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { loadConfig, PROJECT_ROOT } from '../src/config/config.ts';
import { loadSchema } from '../src/domain/schemas.ts';
import { createKafkaClient } from '../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../src/kafka/ensureTopics.ts';
import { createAvroSerde } from '../src/serde/avroSerde.ts';
import { createRegistryClient } from '../src/serde/schemaRegistry.ts';
import { buildClickstreamEvents, syntheticPrice } from '../src/shop/generate/clickstreamGenerator.ts';
import { NODE_FLAGS } from '../bin/nodeFlags.js';
import { buildKafkaStreamsPeer, kafkaStreamsCommand } from './peers/kafkaStreamsPeer.ts';
import { type PeerRun, runPeer } from './peers/runPeer.ts';

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const N = Number(process.argv[2]?.startsWith('--') ? 100_000 : (process.argv[2] ?? 100_000));
const ROUNDS = Number(arg('--rounds') ?? 2);
const ONLY = arg('--only');
// Oversized records are ~1 % of the bad ones; at the default 1 MiB limit they would be most of
// the topic's bytes. 64 KiB keeps them oversized and the run about the ordinary records.
const MAX_MESSAGE_BYTES = 65_536;

const cfg = { ...loadConfig(), logLevel: 'error' as const, maxMessageBytes: MAX_MESSAGE_BYTES };
const kafka = createKafkaClient(cfg, 'bench');
const registry = createRegistryClient(cfg);
const serde = createAvroSerde(registry, { maxMessageBytes: MAX_MESSAGE_BYTES });
const prefix = `bench_${randomBytes(3).toString('hex')}`;
const source = `${prefix}.web.clickstream`;
const products = Array.from({ length: 50 }, (_, i) => ({ id: i + 1, price: syntheticPrice(i + 1) }));
const PEERS = ['sluice', 'sluice_platformatic', 'kafkajs', 'platformatic', 'kstreams', 'sluice_eos'];
const peers = PEERS.filter((p) => !ONLY || p === ONLY);

const admin = kafka.admin();
await admin.connect();
await ensureTopics(
  admin,
  [source, `${prefix}.oltp.products`, ...peers.map((p) => `${prefix}.${p}.out`)].map((topic) => ({ topic })),
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
{
  const { messages } = buildClickstreamEvents({
    count: N,
    schemaId,
    products,
    seed: 'bench',
    baseTime: Date.now() - 3600_000,
    badRatio: 0.02,
    maxMessageBytes: MAX_MESSAGE_BYTES,
  });
  for (let i = 0; i < messages.length; i += 5000)
    await producer.send({
      topic: source,
      acks: -1,
      messages: messages.slice(i, i + 5000).map((m) => ({ key: m.key, value: m.value })),
    });
}
await producer.disconnect();

const committed = (groupId: string) => async () =>
  (await admin.fetchOffsets({ groupId, topics: [source] }))[0].partitions.reduce(
    (n, p) => n + Math.max(0, Number(p.offset)),
    0,
  );
const hasKafkaStreams = peers.includes('kstreams') && buildKafkaStreamsPeer();
// Node peers run with Sluice's own V8 flags, as `sluice run` does (bin/nodeFlags.js).
const node = (script: string, args: string[]) => ({
  command: process.execPath,
  args: [
    ...NODE_FLAGS,
    ...(process.env.BENCH_NODE_ARGS?.split(' ') ?? []),
    path.join(PROJECT_ROOT, 'bench', 'peers', script),
    ...args,
  ],
});

function commandOf(peer: string, round: number, group: string) {
  const out = `${prefix}.${peer}.out`;
  const schemaFile = path.join(PROJECT_ROOT, 'schemas', 'web.clickstream.avsc');
  switch (peer) {
    case 'sluice':
    case 'sluice_platformatic':
    case 'sluice_eos':
      // Each run its own dedupe state: a run that restored the last one's ids would reject all.
      return node('sluicePeer.ts', [
        prefix,
        `${prefix}_${peer}_${round}`,
        group,
        peer === 'sluice_eos' ? 'exactly_once' : 'at_least_once',
      ]);
    case 'kstreams':
      return kafkaStreamsCommand({
        brokers: cfg.kafkaBrokers,
        input: source,
        output: out,
        appId: group,
        maxMessageBytes: MAX_MESSAGE_BYTES,
      });
    default:
      return node('loopPeer.ts', [peer, cfg.kafkaBrokers, source, out, group, schemaFile, String(MAX_MESSAGE_BYTES)]);
  }
}

const runs: Record<string, PeerRun[]> = {};
for (let round = 1; round <= ROUNDS; round++)
  for (const peer of peers) {
    if (peer === 'kstreams' && !hasKafkaStreams) continue;
    const group = `${prefix}-${peer}-${round}`;
    const run = await runPeer({
      name: peer,
      ...commandOf(peer, round, group),
      env: {
        SLUICE_LOG_LEVEL: 'error',
        SLUICE_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
        SLUICE_KAFKA_CLIENT: peer === 'sluice_platformatic' ? 'platformatic' : 'kafkajs',
      },
      n: N,
      committed: committed(group),
    });
    process.stderr.write(`round ${round} ${JSON.stringify(run)}\n`);
    (runs[peer] ??= []).push(run);
  }
await admin.disconnect();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const summary = Object.fromEntries(
  Object.entries(runs).map(([peer, rs]) => [
    peer,
    {
      recordsPerSecond: Math.round(median(rs.map((r) => r.recordsPerSecond))),
      cpuSecondsPer100k: Number(median(rs.map((r) => r.cpuSecondsPer100k)).toFixed(2)),
      peakRssMiB: Math.max(...rs.map((r) => r.peakRssMiB)),
    },
  ]),
);
const ratio = (a: number | undefined, b: number | undefined) =>
  a !== undefined && b ? Number((a / b).toFixed(2)) : undefined;
const s = summary.sluice;
const result = {
  bench: 'clickstream topology vs bare loops and Kafka Streams',
  events: N,
  rounds: ROUNDS,
  maxMessageBytes: MAX_MESSAGE_BYTES,
  peers: summary,
  ratios: s && {
    recordsPerSecondVsKafkaStreams: ratio(s.recordsPerSecond, summary.kstreams?.recordsPerSecond),
    cpuPer100kVsKafkaStreams: ratio(s.cpuSecondsPer100k, summary.kstreams?.cpuSecondsPer100k),
    recordsPerSecondVsKafkajsLoop: ratio(s.recordsPerSecond, summary.kafkajs?.recordsPerSecond),
    recordsPerSecondVsPlatformaticLoop: ratio(s.recordsPerSecond, summary.platformatic?.recordsPerSecond),
    platformaticClientVsKafkajs: ratio(summary.sluice_platformatic?.recordsPerSecond, s.recordsPerSecond),
    exactlyOnceVsAtLeastOnce: ratio(summary.sluice_eos?.recordsPerSecond, s.recordsPerSecond),
  },
};
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
