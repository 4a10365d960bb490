import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Kafka,
  logLevel,
  Partitioners,
  CompressionTypes,
  type LogEntry,
  type SASLOptions,
  type ITopicConfig,
} from 'kafkajs';
import type { Config } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { withRetry } from '../core/retry.ts';

/**
 * The only module that imports kafkajs. Everything else sees these factories and the types
 * re-exported below, so the client could be replaced in one place.
 */
export type {
  Admin,
  Consumer,
  Producer,
  EachBatchPayload,
  KafkaMessage,
  IHeaders,
  Message,
  RecordMetadata,
  Transaction,
} from 'kafkajs';
export { CompressionTypes };

const log = createLogger('kafka');

// kafkajs schedules timers with a negative delay on Node 24 (kafkajs #1751): harmless, but Node
// would print a warning in every process that uses Kafka. Every other warning still shows.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});

// A partition's leader not in place yet: every new topic answers so for a moment, and
// ensureTopics polls through it on purpose (the caller retries; retryKafka warns if it lasts).
const LEADER_NOT_READY = new Set([
  'This server is not the leader for that topic-partition',
  'This server does not host this topic-partition',
  'There is no leader for this topic-partition as we are in the middle of a leadership election',
]);

// kafkajs logs through its own levels; route them into our JSON log at matching severity.
function logCreator() {
  return ({ level, log: entry }: LogEntry) => {
    const { message, timestamp: _ts, logger: _l, ...rest } = entry as LogEntry['log'] & { logger?: string };
    const fields = { kafkajs: rest };
    // Error responses (coordinator loading, leader moved) are retried by kafkajs itself; they are
    // worth a warning, not an error line on every broker restart.
    // A send it retries (a transaction's partitions still being added after the previous commit:
    // CONCURRENT_TRANSACTIONS) carries its retry count: a warning, not an error.
    const retried = (rest as { retryCount?: unknown }).retryCount !== undefined;
    if (level === logLevel.ERROR && !message.startsWith('Response ') && !isTransientCrashLine(message) && !retried)
      log.error(fields, message);
    else if (level === logLevel.ERROR && LEADER_NOT_READY.has(String((rest as { error?: unknown }).error)))
      log.debug(fields, message);
    else if (level === logLevel.ERROR) log.warn(fields, message);
    else if (level === logLevel.WARN) log.warn(fields, message);
    else if (level === logLevel.INFO) log.debug(fields, message);
    else log.trace(fields, message);
  };
}

function sasl(cfg: Config): SASLOptions | undefined {
  if (!cfg.kafkaSaslMechanism) return undefined;
  return {
    mechanism: cfg.kafkaSaslMechanism,
    username: cfg.kafkaSaslUsername,
    password: cfg.kafkaSaslPassword,
  } as SASLOptions;
}

export interface ConsumerOptions {
  groupId: string;
  maxBytesPerPartition?: number;
  /** Default `cfg.kafkaSessionTimeoutMs`: how long a killed member holds its partitions. */
  sessionTimeout?: number;
  /** Default a third of the session timeout. */
  heartbeatInterval?: number;
  /** Default half the heartbeat interval (at most 5 s), so an idle consumer still heartbeats in time. */
  maxWaitTimeInMs?: number;
  /** How long the coordinator waits for live members to rejoin a rebalance (kafkajs default 60 s). */
  rebalanceTimeout?: number;
  /**
   * Read records of open and aborted transactions too (default: read committed, what every
   * Sluice reader does so exactly-once outputs are seen once). For inspection only.
   */
  readUncommitted?: boolean;
}

export interface KafkaClient {
  raw: Kafka;
  admin(): ReturnType<Kafka['admin']>;
  /** Idempotent producer (acks=all, one in-flight request per connection keeps order on retry). */
  producer(opts?: { transactionalId?: string }): ReturnType<Kafka['producer']>;
  consumer(opts: ConsumerOptions): ReturnType<Kafka['consumer']>;
}

/**
 * Group timings of a consumer. A SIGKILLed member holds its partitions until its session times
 * out, so the session is short (the broker's minimum by default). kafkajs heartbeats only from
 * its fetch loop (no background thread, unlike the Java client): the idle fetch wait must stay
 * well under the session, or an idle consumer would be evicted between two empty fetches.
 */
export function consumerTimings(
  cfg: Pick<Config, 'kafkaSessionTimeoutMs'>,
  opts: Omit<ConsumerOptions, 'groupId' | 'maxBytesPerPartition'> = {},
) {
  const sessionTimeout = opts.sessionTimeout ?? cfg.kafkaSessionTimeoutMs;
  const heartbeatInterval = opts.heartbeatInterval ?? Math.max(100, Math.floor(sessionTimeout / 3));
  const maxWaitTimeInMs = opts.maxWaitTimeInMs ?? Math.min(5000, Math.max(100, Math.floor(heartbeatInterval / 2)));
  return {
    sessionTimeout,
    heartbeatInterval,
    maxWaitTimeInMs,
    ...(opts.rebalanceTimeout !== undefined ? { rebalanceTimeout: opts.rebalanceTimeout } : {}),
  };
}

export function createKafkaClient(
  cfg: Config,
  clientId = cfg.kafkaClientId,
  opts: { retries?: number; quiet?: boolean } = {},
): KafkaClient {
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
    producer: (opts = {}) =>
      kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        transactionalId: opts.transactionalId,
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
        // An idempotent producer must retry without limit, or kafkajs can no longer promise no duplicates.
        retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 5000 },
      }),
    consumer: (opts) => {
      const timings = consumerTimings(cfg, {
        sessionTimeout: opts.sessionTimeout,
        heartbeatInterval: opts.heartbeatInterval,
        maxWaitTimeInMs: opts.maxWaitTimeInMs,
        rebalanceTimeout: opts.rebalanceTimeout,
      });
      const consumer = kafka.consumer({
        groupId: opts.groupId,
        allowAutoTopicCreation: false,
        maxBytesPerPartition: opts.maxBytesPerPartition ?? 1024 * 1024,
        readUncommitted: opts.readUncommitted ?? false,
        ...timings,
      });
      const keepAlive = {
        heartbeatInterval: timings.heartbeatInterval,
        maxProcessingMs: timings.rebalanceTimeout ?? KAFKAJS_REBALANCE_TIMEOUT_MS,
      };
      const run = consumer.run;
      consumer.run = (config) =>
        run({
          ...config,
          ...(config?.eachBatch ? { eachBatch: keepSessionAlive(config.eachBatch, keepAlive) } : {}),
          ...(config?.eachMessage ? { eachMessage: keepSessionAlive(config.eachMessage, keepAlive) } : {}),
        });
      return consumer;
    },
  };
}

/** kafkajs' default rebalance timeout, which it also uses when none is given. */
const KAFKAJS_REBALANCE_TIMEOUT_MS = 60_000;

/**
 * Heartbeats while a batch (or message) handler runs. kafkajs heartbeats only between batches,
 * so a handler that waits longer than the session timeout (a state restore, a registry outage)
 * got its member evicted: with the 6 s session, a 9 s batch was re-delivered to a rejoined
 * member. The Java client heartbeats from a background thread and bounds processing by
 * max.poll.interval.ms; likewise this stops after `maxProcessingMs` (the rebalance timeout), so
 * a handler that hangs lets the session lapse and its partitions go to another member.
 */
export function keepSessionAlive<P extends { heartbeat(): Promise<void> }>(
  handler: (payload: P) => Promise<void>,
  opts: { heartbeatInterval: number; maxProcessingMs: number },
): (payload: P) => Promise<void> {
  return async (payload) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (Date.now() - started > opts.maxProcessingMs) return clearInterval(timer);
      // A rebalance this reports is handled where kafkajs heartbeats after the batch.
      payload.heartbeat().catch(() => {});
    }, opts.heartbeatInterval);
    try {
      await handler(payload);
    } finally {
      clearInterval(timer);
    }
  };
}

export interface TopicSpec {
  topic: string;
  partitions?: number;
  replicationFactor?: number;
  compacted?: boolean;
  config?: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Transient errors

/**
 * Broker answers that only say "not now": leadership moving or not yet in place (a topic
 * created a moment ago is in the metadata before its leader hosts it), a group coordinator
 * loading or moving, a rebalance, a timeout. kafkajs retries some of them itself but bails on
 * others (admin.fetchTopicOffsets on NOT_LEADER_FOR_PARTITION, for one).
 */
const TRANSIENT_PROTOCOL_ERRORS = new Set([
  'NOT_LEADER_FOR_PARTITION', // NOT_LEADER_OR_FOLLOWER since Kafka 2.6; kafkajs keeps the old name
  'UNKNOWN_TOPIC_OR_PARTITION', // "does not host this topic-partition": a new topic's leader not ready yet
  'LEADER_NOT_AVAILABLE',
  'REPLICA_NOT_AVAILABLE',
  'BROKER_NOT_AVAILABLE',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'OFFSET_NOT_AVAILABLE',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'NOT_CONTROLLER',
  'REQUEST_TIMED_OUT',
  'NETWORK_EXCEPTION',
  'GROUP_LOAD_IN_PROGRESS', // COORDINATOR_LOAD_IN_PROGRESS
  'GROUP_COORDINATOR_NOT_AVAILABLE', // COORDINATOR_NOT_AVAILABLE
  'NOT_COORDINATOR_FOR_GROUP', // NOT_COORDINATOR
  'REBALANCE_IN_PROGRESS',
  'UNSTABLE_OFFSET_COMMIT',
  'CONCURRENT_TRANSACTIONS',
]);

/** Client-side conditions of the same kind: no connection, no broker, metadata not there yet. */
const TRANSIENT_CLIENT_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSLockTimeout',
]);

/**
 * kafkajs' message of each transient broker error, read from its own error table (kafkajs is
 * pinned; should that internal file ever move, only log levels are affected).
 */
const TRANSIENT_MESSAGES: ReadonlySet<string> = (() => {
  try {
    const { errorCodes } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
      errorCodes: { type: string; message: string }[];
    };
    return new Set(errorCodes.filter((e) => TRANSIENT_PROTOCOL_ERRORS.has(e.type)).map((e) => e.message));
  } catch {
    return new Set<string>();
  }
})();

/**
 * kafkajs logs a consumer crash ("Crash: <name>: <message>", then "Restarting the consumer in
 * …") at error level even when it restarts the consumer on a transient error (a coordinator
 * still loading on a fresh broker, say): a warning. A crash it does not restart is reported by
 * the consumer's owner (runner, readers) through the CRASH event.
 */
function isTransientCrashLine(message: string): boolean {
  if (message.startsWith('Restarting the consumer')) return true;
  const crash = /^Crash: (\w+): (.*)$/s.exec(message);
  return crash !== null && (TRANSIENT_CLIENT_ERRORS.has(crash[1]) || TRANSIENT_MESSAGES.has(crash[2]));
}

const TRANSIENT_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * Whether `err` is a Kafka condition that goes away by itself, so the operation should be
 * retried (with backoff, bounded by time) rather than stop the process. Follows `cause` chains
 * (kafkajs' retries-exceeded wrapper, a SluiceError around a Kafka error) and aggregates (all
 * must be transient). A KAFKA_TRANSIENT SluiceError is not: it is what `retryKafka` throws once
 * its time is up, and retrying it again would multiply the bound.
 *
 * @example
 *   if (!isTransientKafkaError(err)) throw err;
 */
export function isTransientKafkaError(err: unknown): boolean {
  const seen = new Set<unknown>();
  const visit = (e: unknown): boolean => {
    if (!e || typeof e !== 'object' || seen.has(e)) return false;
    seen.add(e);
    if (e instanceof SluiceError && e.shortCode === 'KAFKA_TRANSIENT') return false;
    const { name, type, code, errors, cause } = e as {
      name?: unknown;
      type?: unknown;
      code?: unknown;
      errors?: unknown;
      cause?: unknown;
    };
    if (name === 'KafkaJSAggregateError' && Array.isArray(errors)) return errors.length > 0 && errors.every(visit);
    // A broker error code says exactly what happened: trust it over anything it wraps.
    if (typeof type === 'string') return TRANSIENT_PROTOCOL_ERRORS.has(type);
    if (typeof name === 'string' && TRANSIENT_CLIENT_ERRORS.has(name)) return true;
    if (typeof code === 'string' && TRANSIENT_SOCKET_CODES.has(code)) return true;
    return visit(cause);
  };
  return visit(err);
}

/** The broker error type of `err` or of what it wraps (`UNKNOWN_TOPIC_OR_PARTITION`, …), if any. */
export function kafkaErrorType(err: unknown): string | undefined {
  for (
    let e = err, depth = 0;
    e && typeof e === 'object' && depth < 10;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string') return type;
  }
  return undefined;
}

/** Longest a `retryKafka` call keeps retrying: leader elections and coordinator moves take seconds. */
export const KAFKA_RETRY_MAX_ELAPSED_MS = 60_000;

/**
 * Runs `fn` (an idempotent Kafka call: metadata, offsets, connect/subscribe) and retries it on
 * transient errors with exponential backoff and full jitter for up to `maxElapsedMs`. Any other
 * error is thrown at once, as it is; transient errors that outlast the bound become
 * SLUICE_ERR_KAFKA_TRANSIENT, naming `what` was being done.
 *
 * @example
 *   const ends = await retryKafka(() => admin.fetchTopicOffsets(topic), `end offsets of ${topic}`);
 */
export async function retryKafka<T>(
  fn: () => Promise<T>,
  what: string,
  opts: { maxElapsedMs?: number; signal?: AbortSignal; retriable?: (err: unknown) => boolean } = {},
): Promise<T> {
  const retriable = opts.retriable ?? isTransientKafkaError;
  const started = Date.now();
  try {
    return await withRetry(fn, {
      retries: Infinity,
      initialMs: 100,
      maxMs: 2000,
      maxElapsedMs: opts.maxElapsedMs ?? KAFKA_RETRY_MAX_ELAPSED_MS,
      retriable,
      signal: opts.signal,
      onRetry: (err, attempt, delayMs) =>
        log.warn(
          {
            code: 'SLUICE_ERR_KAFKA_TRANSIENT',
            what,
            attempt,
            retryInMs: delayMs,
            type: kafkaErrorType(err),
            err: (err as Error)?.message,
          },
          'transient Kafka error; retrying',
        ),
    });
  } catch (err) {
    if (opts.signal?.aborted || !retriable(err)) throw err;
    throw new SluiceError(
      'KAFKA_TRANSIENT',
      `${what}: still failing after ${((Date.now() - started) / 1000).toFixed(1)} s: ${(err as Error)?.message ?? String(err)}`,
      { cause: err, details: { what, type: kafkaErrorType(err) } },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Topics

/** Longest `ensureTopics` waits for the partitions of its topics to be served by their leaders. */
export const TOPICS_SERVED_TIMEOUT_MS = 30_000;

/**
 * Creates missing topics; checks existing ones against the spec and refuses to silently alter
 * them (partition count and cleanup policy differences are reported, not "fixed"). Returns the
 * topics it created, once every partition of each is served by its leader: a new
 * topic is in the metadata, with a leader, a few hundred milliseconds before that leader hosts
 * the partition, and a ListOffsets, Produce or Fetch in between fails with NOT_LEADER_FOR_PARTITION
 * or UNKNOWN_TOPIC_OR_PARTITION. kafkajs' own `waitForLeaders` only polls the metadata.
 */
export async function ensureTopics(
  admin: ReturnType<Kafka['admin']>,
  specs: TopicSpec[],
  defaults: { partitions: number; replicationFactor: number },
  opts: { servedTimeoutMs?: number } = {},
): Promise<string[]> {
  const existing = new Set(await retryKafka(() => admin.listTopics(), 'listing topics'));
  const missing = specs.filter((s) => !existing.has(s.topic));
  const present = specs.filter((s) => existing.has(s.topic));
  if (missing.length) {
    // Safe to retry: a topic created by an earlier attempt (or by another process meanwhile)
    // comes back as TOPIC_ALREADY_EXISTS, which kafkajs reports as success.
    await retryKafka(
      () =>
        admin.createTopics({
          waitForLeaders: true,
          topics: missing.map(
            (s): ITopicConfig => ({
              topic: s.topic,
              numPartitions: s.partitions ?? defaults.partitions,
              replicationFactor: s.replicationFactor ?? defaults.replicationFactor,
              configEntries: Object.entries({
                ...(s.compacted ? { 'cleanup.policy': 'compact' } : {}),
                ...s.config,
              }).map(([name, value]) => ({ name, value })),
            }),
          ),
        }),
      `creating topics ${missing.map((s) => s.topic).join(', ')}`,
    );
  }
  if (present.length) {
    const meta = await retryKafka(
      () => admin.fetchTopicMetadata({ topics: present.map((s) => s.topic) }),
      'reading topic metadata',
    );
    for (const t of meta.topics) {
      const spec = present.find((s) => s.topic === t.name)!;
      if (spec.partitions !== undefined && t.partitions.length !== spec.partitions) {
        throw new SluiceError(
          'KAFKA_TOPIC_MISMATCH',
          `topic ${t.name} has ${t.partitions.length} partitions, expected ${spec.partitions}`,
        );
      }
    }
  }
  // Only new topics wait (ours, or one another process created at the same moment): every
  // Sluice creator waits before it returns, and an existing topic with a partition offline must
  // not keep a runner from starting on the others.
  if (missing.length)
    await waitUntilServed(
      admin,
      missing.map((s) => s.topic),
      opts.servedTimeoutMs ?? TOPICS_SERVED_TIMEOUT_MS,
    );
  return missing.map((s) => s.topic);
}

/**
 * Polls until each topic's metadata shows a leader for every partition AND those leaders answer
 * a ListOffsets for it (the proof that the partition is hosted, not just announced).
 */
async function waitUntilServed(admin: ReturnType<Kafka['admin']>, topics: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = [...new Set(topics)];
  let lastProblem = '';
  for (let round = 0; pending.length; round++) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: pending });
      const led = meta.topics
        .filter(
          (t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0 && p.partitionErrorCode === 0),
        )
        .map((t) => t.name);
      if (led.length < pending.length) lastProblem = 'a partition has no leader in the metadata yet';
      const served = await Promise.all(
        led.map(async (topic) => {
          try {
            await admin.fetchTopicOffsets(topic);
            return topic;
          } catch (err) {
            if (!isTransientKafkaError(err)) throw err;
            lastProblem = `${topic}: ${(err as Error).message}`;
            return undefined;
          }
        }),
      );
      pending = pending.filter((t) => !served.includes(t));
    } catch (err) {
      if (!isTransientKafkaError(err)) throw err;
      lastProblem = (err as Error).message;
    }
    if (!pending.length) return;
    if (Date.now() >= deadline) {
      throw new SluiceError(
        'KAFKA_TRANSIENT',
        `topics ${pending.join(', ')} are not served by their partition leaders after ${timeoutMs} ms (${lastProblem})`,
        { details: { topics: pending } },
      );
    }
    if (round === 0)
      log.debug({ topics: pending, problem: lastProblem }, 'waiting for new topics to be served by their leaders');
    await sleep(Math.min(25 * 2 ** round, 500));
  }
}
