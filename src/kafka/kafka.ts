import { Kafka, logLevel, Partitioners, CompressionTypes, type LogEntry, type SASLOptions, type ITopicConfig } from 'kafkajs';
import type { Config } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';

/**
 * The only module that imports kafkajs. Everything else sees these factories and the types
 * re-exported below, so the client could be replaced in one place.
 */
export type { Admin, Consumer, Producer, EachBatchPayload, KafkaMessage, IHeaders, Message, RecordMetadata, Transaction } from 'kafkajs';
export { CompressionTypes };

const log = createLogger('kafka');

// kafkajs schedules timers with a negative delay on Node 24 (kafkajs #1751): harmless, but Node
// would print a warning in every process that uses Kafka. Every other warning still shows.
process.removeAllListeners('warning');
process.on('warning', (w) => { if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`${w.name}: ${w.message}\n`); });

// kafkajs logs through its own levels; route them into our JSON log at matching severity.
function logCreator() {
  return ({ level, log: entry }: LogEntry) => {
    const { message, timestamp: _ts, logger: _l, ...rest } = entry as LogEntry['log'] & { logger?: string };
    const fields = { kafkajs: rest };
    // Error responses (coordinator loading, leader moved) are retried by kafkajs itself; they are
    // worth a warning, not an error line on every broker restart.
    if (level === logLevel.ERROR && !message.startsWith('Response ')) log.error(fields, message);
    else if (level === logLevel.ERROR) log.warn(fields, message);
    else if (level === logLevel.WARN) log.warn(fields, message);
    else if (level === logLevel.INFO) log.debug(fields, message);
    else log.trace(fields, message);
  };
}

function sasl(cfg: Config): SASLOptions | undefined {
  if (!cfg.kafkaSaslMechanism) return undefined;
  return { mechanism: cfg.kafkaSaslMechanism, username: cfg.kafkaSaslUsername, password: cfg.kafkaSaslPassword } as SASLOptions;
}

export interface KafkaClient {
  raw: Kafka;
  admin(): ReturnType<Kafka['admin']>;
  /** Idempotent producer (acks=all, one in-flight request per connection keeps order on retry). */
  producer(opts?: { transactionalId?: string }): ReturnType<Kafka['producer']>;
  consumer(opts: { groupId: string; maxBytesPerPartition?: number; sessionTimeout?: number; heartbeatInterval?: number }): ReturnType<Kafka['consumer']>;
}

export function createKafkaClient(cfg: Config, clientId = cfg.kafkaClientId, opts: { retries?: number; quiet?: boolean } = {}): KafkaClient {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  const kafka = new Kafka({
    clientId,
    brokers: cfg.kafkaBrokers.split(','),
    ssl: cfg.kafkaSsl,
    sasl: sasl(cfg),
    logLevel: opts.quiet ? logLevel.NOTHING : logLevel.WARN,
    logCreator,
    connectionTimeout: 3000,
    retry: { retries: opts.retries ?? 8, initialRetryTime: 200, maxRetryTime: 5000 },
  });
  return {
    raw: kafka,
    admin: () => kafka.admin(),
    producer: (opts = {}) => kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      transactionalId: opts.transactionalId,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      // An idempotent producer must retry without limit, or kafkajs can no longer promise no duplicates.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 5000 },
    }),
    consumer: (opts) => kafka.consumer({
      groupId: opts.groupId,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: opts.maxBytesPerPartition ?? 1024 * 1024,
      sessionTimeout: opts.sessionTimeout ?? 30_000,
      heartbeatInterval: opts.heartbeatInterval ?? 3_000,
    }),
  };
}

export interface TopicSpec {
  topic: string;
  partitions?: number;
  replicationFactor?: number;
  compacted?: boolean;
  config?: Record<string, string>;
}

/**
 * Creates missing topics; checks existing ones against the spec and refuses to silently alter
 * them (partition count and cleanup policy differences are reported, not "fixed").
 */
export async function ensureTopics(admin: ReturnType<Kafka['admin']>, specs: TopicSpec[], defaults: { partitions: number; replicationFactor: number }): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.topic));
  const present = specs.filter((s) => existing.has(s.topic));
  if (missing.length) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((s): ITopicConfig => ({
        topic: s.topic,
        numPartitions: s.partitions ?? defaults.partitions,
        replicationFactor: s.replicationFactor ?? defaults.replicationFactor,
        configEntries: Object.entries({ ...(s.compacted ? { 'cleanup.policy': 'compact' } : {}), ...s.config }).map(([name, value]) => ({ name, value })),
      })),
    });
  }
  if (present.length) {
    const meta = await admin.fetchTopicMetadata({ topics: present.map((s) => s.topic) });
    for (const t of meta.topics) {
      const spec = present.find((s) => s.topic === t.name)!;
      if (spec.partitions !== undefined && t.partitions.length !== spec.partitions) {
        throw new SluiceError('KAFKA_TOPIC_MISMATCH', `topic ${t.name} has ${t.partitions.length} partitions, expected ${spec.partitions}`);
      }
    }
  }
  return missing.map((s) => s.topic);
}
