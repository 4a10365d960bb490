import { createHash } from 'node:crypto';
import type { Config } from '../../src/config/config.ts';
import { loadSchema, subjectFor } from '../../src/domain/schemas.ts';
import {
  CLICKSTREAM_TOPIC,
  clickstreamMessages,
  emptyClickstreamCounts,
  tally,
  type CatalogEntry,
  type ClickMessage,
  type ClickMessageKind,
  type ClickstreamCounts,
} from '../../src/shop/generate/clickstreamGenerator.ts';
import { sleep, TokenBucket } from '../../src/core/pacing.ts';
import { createKafkaClient } from '../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../src/kafka/ensureTopics.ts';
import { createAvroSerde } from '../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../src/serde/schemaRegistry.ts';

/**
 * The web shop's clickstream during the chaos run: the project's seeded generator
 * (`clickstreamMessages`), paced so that event time follows the wall clock, counted once the
 * broker acknowledged each batch (`tally`), and remembered per message so the checks can say what
 * every record of web.clickstream was: the kind of each value (by its hash) and the event id of
 * every valid, non-duplicate event. A batch whose send fails (the broker restart) is sent again;
 * such re-sends may duplicate records in the topic and are counted.
 */

export interface ClickTruth {
  counts: ClickstreamCounts;
  /** sha1 of a value → the kind it was generated as (a duplicate's bytes map to its original's kind). */
  kindByHash: Map<string, ClickMessageKind>;
  /** Event ids of the valid events, duplicates excluded: what silver.clickstream must hold. */
  validIds: Set<string>;
  baseTime: number;
  lastEventTime: number;
  failedSends: number;
  elapsedMs: number;
  schemaId: number;
}

export const valueHash = (v: Buffer | null) => (v === null ? 'null' : createHash('sha1').update(v).digest('hex'));

const VALID_KINDS = new Set<ClickMessageKind>(['normal', 'out_of_order', 'late']);

export interface ClickFeed {
  produced(): number;
  /** Ends production after the batch in flight (a harness failure); `done` then holds what was sent. */
  stop(): void;
  done: Promise<ClickTruth>;
}

export function startClickFeed(
  cfg: Config,
  opts: {
    count: number;
    rate: number;
    seed: string;
    badRatio: number;
    products: CatalogEntry[];
    customerIds: number[];
    say: (line: string) => void;
  },
): ClickFeed {
  let produced = 0;
  let stopped = false;
  const done = (async (): Promise<ClickTruth> => {
    const t0 = Date.now();
    const registry = createRegistryClient(cfg);
    const schemaId = await registry.register(subjectFor(CLICKSTREAM_TOPIC), loadSchema(CLICKSTREAM_TOPIC));
    const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
    await serde.prepareIds([schemaId]);
    const kafka = createKafkaClient(cfg, 'sluice-chaos-clicks');
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [{ topic: CLICKSTREAM_TOPIC }], {
      partitions: cfg.topicPartitions,
      replicationFactor: cfg.topicReplication,
    });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();

    const baseTime = Date.now();
    const source = clickstreamMessages({
      schemaId,
      products: opts.products,
      customerIds: opts.customerIds,
      seed: opts.seed,
      baseTime,
      rate: opts.rate,
      badRatio: opts.badRatio,
      maxMessageBytes: cfg.maxMessageBytes,
    });
    const truth: ClickTruth = {
      counts: emptyClickstreamCounts(),
      kindByHash: new Map(),
      validIds: new Set(),
      baseTime,
      lastEventTime: baseTime,
      failedSends: 0,
      elapsedMs: 0,
      schemaId,
    };
    const bucket = new TokenBucket(opts.rate, Math.max(1, opts.rate / 2));
    const record = (m: ClickMessage) => {
      tally(truth.counts, m);
      const h = valueHash(m.value);
      if (!truth.kindByHash.has(h)) truth.kindByHash.set(h, m.kind);
      if (VALID_KINDS.has(m.kind)) {
        const e = serde.decodeSync(m.value).value as { event_id: string; event_time: number };
        truth.validIds.add(e.event_id);
        truth.lastEventTime = Math.max(truth.lastEventTime, e.event_time);
      }
    };
    try {
      while (produced < opts.count && !stopped) {
        const n = bucket.take(Math.min(500, opts.count - produced));
        if (n === 0) {
          await sleep(Math.min(100, Math.max(5, bucket.waitMs())));
          continue;
        }
        const batch: ClickMessage[] = [];
        for (let i = 0; i < n; i++) batch.push(source.next().value as ClickMessage);
        for (;;) {
          try {
            await producer.send({
              topic: CLICKSTREAM_TOPIC,
              acks: -1,
              timeout: 30_000,
              messages: batch.map((m) => ({ key: m.key, value: m.value })),
            });
            break;
          } catch (err) {
            truth.failedSends++;
            opts.say(
              `clicks: send of ${batch.length} records failed (${(err as Error).message}); sending the batch again`,
            );
            await sleep(1000);
          }
        }
        for (const m of batch) record(m);
        produced += batch.length;
      }
    } finally {
      await producer.disconnect().catch(() => {});
    }
    truth.elapsedMs = Date.now() - t0;
    return truth;
  })();
  return {
    produced: () => produced,
    stop: () => {
      stopped = true;
    },
    done,
  };
}
