/**
 * Live feed latency: from producing a metric record (the moment `producer.send` is called) to the
 * update arriving at a WebSocket client, at a steady rate, against the configured stack (the
 * local stack by default). Not part of the tests.
 *
 *   node bench/feedLatency.bench.ts [rate=1000] [seconds=20] [clients=1]
 *
 * A unique `metrics.bench_feed_*` topic (3 partitions, the revenue_per_minute schema, 60 keys) is
 * written at `rate` records/s in 10 ms ticks with acks=all; a feed server on port 0 serves it and
 * `clients` WebSocket clients subscribe. Producer, feed and clients share this one process, so
 * the figures include their contention for one CPU core. Every record must arrive exactly once at
 * every client; the run fails otherwise.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { loadConfig } from '../src/config/config.ts';
import { feedTokenOf } from '../src/feed/feedToken.ts';
import { loadSchema } from '../src/domain/schemas.ts';
import { startFeedServer } from '../src/feed/feedServer.ts';
import { createKafkaClient } from '../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../src/kafka/ensureTopics.ts';
import { createAvroSerde } from '../src/serde/avroSerde.ts';
import { createRegistryClient } from '../src/serde/schemaRegistry.ts';

const RATE = Number(process.argv[2] ?? 1000);
const SECONDS = Number(process.argv[3] ?? 20);
const CLIENTS = Number(process.argv[4] ?? 1);
const WARMUP_SECONDS = 2;
const TICK_MS = 10;
const KEYS = 60;

const cfg = loadConfig();
const metric = `bench_feed_${Date.now().toString(36)}`;
const topic = `metrics.${metric}`;
const kafka = createKafkaClient(cfg, 'bench-feed');
const admin = kafka.admin();
await admin.connect();
await ensureTopics(admin, [{ topic, partitions: 3 }], { partitions: 3, replicationFactor: 1 });
const registry = createRegistryClient(cfg);
const schemaId = await registry.register(`${topic}-value`, loadSchema('metrics.revenue_per_minute'));
const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
await serde.encode(schemaId, {
  window_start: 0,
  window_end: 60_000,
  category: 'x',
  revenue: 0,
  final: false,
  emitted_at: 0,
});
const producer = kafka.producer();
await producer.connect();
const srv = await startFeedServer(cfg, { host: '127.0.0.1', port: 0, feed: { topicRefreshMs: 500 } });
await srv.feed.ready;

const sentAt = new Map<number, number>();
const measured: number[][] = Array.from({ length: CLIENTS }, () => []);
const seen: Set<number>[] = Array.from({ length: CLIENTS }, () => new Set());
let duplicates = 0;
let firstMeasuredSeq = Infinity;

const sockets = await Promise.all(
  Array.from(
    { length: CLIENTS },
    (_, i) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`${srv.url.replace(/^http/, 'ws')}/ws`, {
          headers: { authorization: `Bearer ${feedTokenOf(cfg)}` },
        });
        ws.on('error', reject);
        ws.on('open', () => ws.send(JSON.stringify({ subscribe: [metric] })));
        ws.on('message', (data) => {
          const now = performance.now();
          const msg = JSON.parse(data.toString()) as { type: string; snapshot?: boolean; value?: { revenue: number } };
          if (msg.type === 'ready') resolve(ws);
          if (msg.type !== 'update' || msg.snapshot) return;
          const seq = msg.value!.revenue;
          if (seen[i].has(seq)) {
            duplicates++;
            return;
          }
          seen[i].add(seq);
          if (seq >= firstMeasuredSeq) measured[i].push(now - sentAt.get(seq)!);
        });
      }),
  ),
);

const perTick = Math.max(1, Math.round((RATE * TICK_MS) / 1000));
const totalTicks = Math.round(((WARMUP_SECONDS + SECONDS) * 1000) / TICK_MS);
const windowStart = Math.floor(Date.now() / 60_000) * 60_000;
let seq = 0;
const sends: Promise<unknown>[] = [];
const t0 = performance.now();
process.stderr.write(
  `producing ${RATE}/s for ${WARMUP_SECONDS}s warm-up + ${SECONDS}s measured to ${topic}, ${CLIENTS} client(s)...\n`,
);
for (let tick = 0; tick < totalTicks; tick++) {
  const due = t0 + tick * TICK_MS;
  const wait = due - performance.now();
  if (wait > 0) await sleep(wait);
  if (tick === Math.round((WARMUP_SECONDS * 1000) / TICK_MS)) firstMeasuredSeq = seq;
  const messages = [];
  const at = performance.now();
  for (let j = 0; j < perTick; j++, seq++) {
    sentAt.set(seq, at);
    const value = {
      window_start: windowStart,
      window_end: windowStart + 60_000,
      category: `c${seq % KEYS}`,
      revenue: seq,
      final: false,
      emitted_at: Date.now(),
    };
    messages.push({ key: `${windowStart}|c${seq % KEYS}`, value: serde.encodeSync(schemaId, value) });
  }
  sends.push(producer.send({ topic, acks: -1, messages }));
}
await Promise.all(sends);
const produceSeconds = (performance.now() - t0) / 1000;
const deadline = Date.now() + 30_000;
while (seen.some((s) => s.size < seq) && Date.now() < deadline) await sleep(50);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const all = measured.flat().sort((a, b) => a - b);
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
process.stdout.write(
  [
    `feed latency, produce call → WebSocket client (${RATE} records/s, ${SECONDS} s measured, ${CLIENTS} client(s))`,
    `  records produced      ${seq} in ${produceSeconds.toFixed(1)} s (${Math.round(seq / produceSeconds)}/s achieved)`,
    `  received per client   ${seen.map((s) => s.size).join(', ')} (duplicates: ${duplicates})`,
    `  samples               ${all.length}`,
    `  p50                   ${fmt(pct(all, 50))}`,
    `  p90                   ${fmt(pct(all, 90))}`,
    `  p99                   ${fmt(pct(all, 99))}`,
    `  max                   ${fmt(all[all.length - 1])}`,
    '',
  ].join('\n'),
);
const ok = seen.every((s) => s.size === seq) && duplicates === 0;
const ms1 = (x: number) => Math.round(x * 10) / 10;
process.stdout.write(
  `${JSON.stringify({ bench: 'feed latency', rate: RATE, clients: CLIENTS, p50Ms: ms1(pct(all, 50)), p99Ms: ms1(pct(all, 99)), ok })}\n`,
);

for (const ws of sockets) ws.close();
await srv.close();
await producer.disconnect();
await admin.deleteTopics({ topics: [topic] }).catch(() => {});
await registry.deleteSubject(`${topic}-value`);
await admin.disconnect();
if (!ok) {
  process.stderr.write('FAILED: not every record arrived exactly once\n');
  process.exit(1);
}
process.exit(0);
