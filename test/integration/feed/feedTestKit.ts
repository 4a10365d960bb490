import { once } from 'node:events';
import WebSocket from 'ws';
import type { Config } from '../../../src/config/config.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import { createKafkaClient, type KafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import type { Producer } from '../../../src/kafka/kafkaTypes.ts';
import type { MetricsFeed } from '../../../src/feed/metricsFeed.ts';
import { createAvroSerde, type AvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { eventually, uniqueName } from '../../support/stack.ts';

/**
 * Helpers for the live feed tests: a unique `metrics.<name>` topic with the revenue_per_minute
 * schema registered under its subject, a producer of window results, and a WebSocket client that
 * records everything it receives.
 */

export interface RevenueResult {
  window_start: number;
  window_end: number;
  category: string;
  revenue: number;
  final: boolean;
  emitted_at: number;
}

export interface MetricTopic {
  metric: string;
  topic: string;
  kafka: KafkaClient;
  /** Produces window results keyed like the metric topics: `<window_start>|<group fields>`. */
  produce(results: object[]): Promise<void>;
  close(): Promise<void>;
}

/** The Kafka key of a window result: its window start and its string (group) fields. */
export function keyOf(r: object): string {
  const v = r as Record<string, unknown>;
  return [String(v.window_start), ...Object.values(v).filter((x): x is string => typeof x === 'string')].join('|');
}

/**
 * A fresh `metrics.<metric>` topic with an existing metric's value schema registered under its
 * subject. `metric` defaults to a unique name.
 */
export async function createMetricTopic(
  cfg: Config,
  opts: { metric?: string; prefix?: string; schema?: string; partitions?: number } = {},
): Promise<MetricTopic> {
  const metric = opts.metric ?? uniqueName(opts.prefix ?? 'it_feed');
  const partitions = opts.partitions ?? 3;
  const topic = `metrics.${metric}`;
  const kafka = createKafkaClient(cfg, 'it-feed');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, partitions }], { partitions, replicationFactor: 1 });
  const registry = createRegistryClient(cfg);
  const schemaId = await registry.register(`${topic}-value`, loadSchema(opts.schema ?? 'metrics.revenue_per_minute'));
  const serde: AvroSerde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const producer: Producer = kafka.producer();
  await producer.connect();
  return {
    metric,
    topic,
    kafka,
    async produce(results) {
      for (let i = 0; i < results.length; i += 500) {
        const chunk = results.slice(i, i + 500);
        await producer.send({
          topic,
          acks: -1,
          messages: await Promise.all(
            chunk.map(async (r) => ({ key: keyOf(r), value: await serde.encode(schemaId, r) })),
          ),
        });
      }
    },
    async close() {
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await registry.deleteSubject(`${topic}-value`);
      await admin.disconnect();
    },
  };
}

/** Waits until the feed has read the topic up to its current end (so a resume finds it all there). */
export async function feedCaughtUp(feed: MetricsFeed, mt: MetricTopic): Promise<void> {
  const admin = mt.kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(mt.topic);
    await eventually(
      async () =>
        ends.every((e) => (feed.log.positions(mt.metric).get(`${mt.topic}/${e.partition}`) ?? -1) >= Number(e.high)),
      `the feed to read ${mt.topic} to its end`,
    );
  } finally {
    await admin.disconnect();
  }
}

/** A revenue result whose `revenue` is a sequence number, so every update can be told apart. */
export function result(windowStart: number, category: string, seq: number, final = false): RevenueResult {
  return {
    window_start: windowStart,
    window_end: windowStart + 60_000,
    category,
    revenue: seq,
    final,
    emitted_at: Date.now(),
  };
}

export interface Msg {
  type: string;
  metric?: string;
  key?: string;
  value?: { category: string; revenue: number };
  window?: { start: number; end: number };
  final?: boolean;
  emittedAt?: number;
  cursor?: string;
  snapshot?: boolean;
  replayed?: number;
  reset?: string[];
  code?: string;
}

export class FeedClient {
  readonly messages: Msg[] = [];
  closeCode?: number;
  readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => this.messages.push(JSON.parse(data.toString())));
    ws.on('close', (code) => {
      this.closeCode = code;
    });
    ws.on('error', () => {});
  }

  static async open(url: string, opts: WebSocket.ClientOptions = {}): Promise<FeedClient> {
    const ws = new WebSocket(url, opts);
    const client = new FeedClient(ws);
    await once(ws, 'open');
    return client;
  }

  subscribe(metrics: string[], cursor?: string): void {
    this.ws.send(JSON.stringify(cursor ? { subscribe: metrics, cursor } : { subscribe: metrics }));
  }

  updates(): Msg[] {
    return this.messages.filter((m) => m.type === 'update');
  }
  live(): Msg[] {
    return this.updates().filter((m) => !m.snapshot);
  }
  ready(): Msg | undefined {
    return this.messages.find((m) => m.type === 'ready');
  }
  lastCursor(): string {
    return [...this.messages].reverse().find((m) => m.cursor)!.cursor!;
  }

  waitReady(timeoutMs = 30_000): Promise<Msg> {
    return eventually(async () => this.ready(), 'the feed to send ready', timeoutMs);
  }

  waitLive(count: number, timeoutMs = 30_000): Promise<Msg[]> {
    return eventually(
      async () => this.live().length >= count && this.live(),
      `${count} live updates (have ${this.live().length})`,
      timeoutMs,
    );
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = once(this.ws, 'close');
    this.ws.close();
    await closed;
  }
}

/** Opens a WebSocket that the server must refuse before the upgrade; resolves with the HTTP status. */
export async function refusedStatus(url: string, opts: WebSocket.ClientOptions = {}): Promise<number> {
  const ws = new WebSocket(url, opts);
  return new Promise<number>((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    ws.on('error', () => {});
  });
}
