import { createRequire } from 'node:module';
import { SluiceError } from '../core/errors.ts';

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

/**
 * kafkajs logs a consumer crash ("Crash: <name>: <message>", then "Restarting the consumer in
 * …") at error level even when it restarts the consumer on a transient error (a coordinator
 * still loading on a fresh broker, say): a warning. A crash it does not restart is reported by
 * the consumer's owner (runner, readers) through the CRASH event.
 *
 * @example
 *   isTransientCrashLine('Restarting the consumer in 300ms'); // true
 */
export function isTransientCrashLine(message: string): boolean {
  if (message.startsWith('Restarting the consumer')) return true;
  const crash = /^Crash: (\w+): (.*)$/s.exec(message);
  return crash !== null && (TRANSIENT_CLIENT_ERRORS.has(crash[1]) || TRANSIENT_MESSAGES.has(crash[2]));
}

/**
 * The broker error type of `err` or of what it wraps (`UNKNOWN_TOPIC_OR_PARTITION`, …), if any.
 *
 * @example
 *   log.warn({ type: kafkaErrorType(err) }, 'offsets unavailable');
 */
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
