import { writeFileSync } from 'node:fs';
import type { Config } from '../../config/config.ts';
import { SluiceError } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import { loadSchema, subjectFor } from '../../domain/schemas.ts';
import { createKafkaClient, type KafkaClient } from '../../kafka/createKafkaClient.ts';
import { ensureTopics } from '../../kafka/ensureTopics.ts';
import { createRegistryClient } from '../../serde/schemaRegistry.ts';
import { loadCatalog, type CatalogSource } from './clickstream/clickCatalog.ts';
import { CLICKSTREAM_TOPIC } from './clickstream/clickMessage.ts';
import { produceClicks } from './clickstream/clickProducer.ts';
import { formatClickstreamCounts, type ClickstreamCounts } from './clickstream/clickstreamCounts.ts';
import { clickstreamMessages } from './clickstream/clickstreamMessages.ts';
import type { Seed } from './random.ts';

/**
 * The web shop's clickstream: Avro events in the Confluent wire format on `web.clickstream`,
 * keyed by session id. Sessions walk the funnel page_view → product_view → add_to_cart
 * (→ remove_from_cart) → checkout_started → purchase with drop-off at every step. Mixed in, at
 * known rates: out-of-order and late events, exact duplicates, and bad records of every kind the
 * engine must route to the DLQ. Everything is a pure function of the seed and base time, and the
 * generator counts exactly what it produced: the ground truth tests compare against.
 *
 * This module produces it to Kafka; the parts under `./clickstream/` build it without I/O and are
 * re-exported here, the generator's public face for tests, benches and the chaos harness.
 */

export { syntheticPrice, type CatalogSource } from './clickstream/clickCatalog.ts';
export * from './clickstream/clickMessage.ts';
export * from './clickstream/clickstreamCounts.ts';
export {
  buildClickstreamEvents,
  clickstreamMessages,
  type ClickstreamEventOptions,
} from './clickstream/clickstreamMessages.ts';

const log = createLogger('generate.clickstream');

/** What `generateClickstream` produces, for how long, and where to. */
export interface GenerateClickstreamOptions extends CatalogSource {
  /** Messages per second; 0 or Infinity: as fast as the broker takes them. */
  rate: number;
  durationMs?: number;
  count?: number;
  badRatio?: number;
  seed?: Seed;
  topic?: string;
  groundTruthFile?: string;
  /** Epoch ms of the first event; default now. */
  baseTime?: number;
  duplicateRatio?: number;
  outOfOrderRatio?: number;
  lateRatio?: number;
  loggedInRatio?: number;
  /** Messages per produce request (default 500). */
  batchSize?: number;
  signal?: AbortSignal;
  progress?: boolean;
  /** Print the counts to stdout at the end (default true). */
  print?: boolean;
}

/** The counts of what the broker acknowledged, with what produced them. */
export interface ClickstreamResult extends ClickstreamCounts {
  topic: string;
  schemaId: number;
  seed: string;
  baseTime: number;
  elapsedMs: number;
  eventsPerSecond: number;
  aborted: boolean;
}

/** Registers the click schema under `<topic>-value` and creates the topic when missing; returns the schema id. */
async function prepareTopic(cfg: Config, kafka: KafkaClient, topic: string): Promise<number> {
  const registry = createRegistryClient(cfg);
  const schemaId = await registry.register(subjectFor(topic), loadSchema(CLICKSTREAM_TOPIC));
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [{ topic }], {
      partitions: cfg.topicPartitions,
      replicationFactor: cfg.topicReplication,
    });
  } finally {
    await admin.disconnect();
  }
  return schemaId;
}

/**
 * Produces the clickstream to Kafka (schema registered under `<topic>-value`) until `count`,
 * `durationMs` or the signal, rate-limited by a token bucket. Counts only what the broker
 * acknowledged; prints them, returns them and writes them to `groundTruthFile`.
 *
 * @example
 *   const r = await generateClickstream(cfg, { rate: 500, count: 10_000, badRatio: 0.02, seed: 1 });
 */
export async function generateClickstream(cfg: Config, opts: GenerateClickstreamOptions): Promise<ClickstreamResult> {
  const t0 = performance.now();
  const topic = opts.topic ?? CLICKSTREAM_TOPIC;
  const seed = String(opts.seed ?? 42);
  const baseTime = opts.baseTime ?? Date.now();
  const count = opts.count ?? Infinity;
  if (count === Infinity && opts.durationMs === undefined && !opts.signal) {
    throw new SluiceError('CLI_USAGE', 'generate clickstream needs --count or --duration (or a signal to stop it)');
  }
  const { products, customerIds } = await loadCatalog(cfg, opts);
  if (!products.length)
    throw new SluiceError(
      'CLI_USAGE',
      'no products in the OLTP catalogue: seed it first (sluice generate oltp --customers N --products N --orders N)',
    );
  const kafka = createKafkaClient(cfg);
  const schemaId = await prepareTopic(cfg, kafka, topic);
  const source = clickstreamMessages({
    ...{ schemaId, products, customerIds, seed, baseTime },
    rate: Number.isFinite(opts.rate) && opts.rate > 0 ? opts.rate : undefined,
    badRatio: opts.badRatio,
    duplicateRatio: opts.duplicateRatio,
    outOfOrderRatio: opts.outOfOrderRatio,
    lateRatio: opts.lateRatio,
    loggedInRatio: opts.loggedInRatio,
    maxMessageBytes: cfg.maxMessageBytes,
  });
  const producer = kafka.producer();
  await producer.connect();
  let produced: ClickstreamCounts;
  try {
    produced = await produceClicks(producer, topic, source, {
      rate: opts.rate,
      count,
      deadline: opts.durationMs !== undefined ? performance.now() + opts.durationMs : Infinity,
      batchSize: Math.max(1, opts.batchSize ?? 500),
      maxBatchBytes: Math.max(4 << 20, cfg.maxMessageBytes * 2),
      signal: opts.signal,
      progress: opts.progress,
    });
  } finally {
    await producer.disconnect().catch(() => {});
  }
  const elapsedMs = Math.round(performance.now() - t0);
  const result: ClickstreamResult = {
    ...produced,
    ...{ topic, schemaId, seed, baseTime, elapsedMs },
    eventsPerSecond: Math.round((produced.total * 1000) / Math.max(1, elapsedMs)),
    aborted: Boolean(opts.signal?.aborted),
  };
  if (opts.groundTruthFile) writeFileSync(opts.groundTruthFile, `${JSON.stringify(result, null, 2)}\n`);
  if (opts.print ?? true) process.stdout.write(`${formatClickstreamCounts(result)}\n`);
  log.info({ topic, total: result.total, bad: result.bad, elapsedMs }, 'clickstream generated');
  return result;
}
