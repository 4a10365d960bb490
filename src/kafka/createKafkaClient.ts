import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { type Config, secretOf } from '../config/config.ts';
import type { ConsumerOptions } from './consumerTimings.ts';
import { createConsumer } from './createConsumer.ts';
import { kafkaLogCreator } from './kafkaLogCreator.ts';
import { javaCompatiblePartitioner } from './kafkajsPartitioner.ts';
import { createRequire } from 'node:module';

// kafkajs schedules timers with a negative delay on Node 24 (kafkajs #1751): harmless, but Node
// would print a warning in every process that uses Kafka. Every other warning still shows.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});

/**
 * The @platformatic/kafka driver, loaded only when chosen: it holds ~40 MiB of resident memory
 * (its protocol tables and validators) that a kafkajs process would carry for nothing.
 * `require` of an ES module is synchronous (it has no top-level await), so choosing a client
 * stays synchronous too.
 */
function loadPlatformatic(): typeof import('./platformatic/createPlatformaticClient.ts') {
  return createRequire(import.meta.url)('./platformatic/createPlatformaticClient.ts');
}

/** Sluice's Kafka client: admin, producers and consumers with the settings every part relies on. */
export interface KafkaClient {
  raw: Kafka;
  admin(): ReturnType<Kafka['admin']>;
  /** Idempotent producer (acks=all, one in-flight request per connection keeps order on retry). */
  producer(opts?: { transactionalId?: string }): ReturnType<Kafka['producer']>;
  consumer(opts: ConsumerOptions): ReturnType<Kafka['consumer']>;
}

function sasl(cfg: Config): SASLOptions | undefined {
  if (!cfg.kafkaSaslMechanism) return undefined;
  return {
    mechanism: cfg.kafkaSaslMechanism,
    username: cfg.kafkaSaslUsername,
    password: secretOf(cfg, 'kafkaSaslPassword'),
  } as SASLOptions;
}

/**
 * A client for the configured brokers. Creating it does no I/O; its admins, producers and
 * consumers connect when asked to.
 *
 * @example
 *   const kafka = createKafkaClient(cfg, 'sluice-inspect', { quiet: true });
 */
export function createKafkaClient(
  cfg: Config,
  clientId = cfg.kafkaClientId,
  opts: { retries?: number; quiet?: boolean } = {},
): KafkaClient {
  if (cfg.kafkaClient === 'platformatic') return loadPlatformatic().createPlatformaticClient(cfg, clientId, opts);
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  const kafka = new Kafka({
    clientId,
    brokers: cfg.kafkaBrokers.split(','),
    ssl: cfg.kafkaSsl && (cfg.kafkaSslCaFile ? { ca: [readFileSync(cfg.kafkaSslCaFile, 'utf8')] } : true),
    sasl: sasl(cfg),
    logLevel: opts.quiet ? logLevel.NOTHING : logLevel.WARN,
    logCreator: kafkaLogCreator,
    connectionTimeout: 3000,
    retry: { retries: opts.retries ?? 8, initialRetryTime: 200, maxRetryTime: 5000 },
  });
  return {
    raw: kafka,
    admin: () => kafka.admin(),
    producer: (opts = {}) =>
      kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        transactionalId: opts.transactionalId,
        createPartitioner: javaCompatiblePartitioner,
        allowAutoTopicCreation: false,
        // An idempotent producer must retry without limit, or kafkajs can no longer promise no duplicates.
        retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 5000 },
      }),
    consumer: (opts) => createConsumer(kafka, cfg, opts),
  };
}
