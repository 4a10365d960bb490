import { logLevel, type LogEntry } from 'kafkajs';
import { createLogger } from '../core/log.ts';
import { isTransientCrashLine } from './isTransientKafkaError.ts';

const log = createLogger('kafka');

// A partition's leader not in place yet: every new topic answers so for a moment, and
// ensureTopics polls through it on purpose (the caller retries; retryKafka warns if it lasts).
const LEADER_NOT_READY = new Set([
  'This server is not the leader for that topic-partition',
  'This server does not host this topic-partition',
  'There is no leader for this topic-partition as we are in the middle of a leadership election',
]);

/**
 * kafkajs logs through its own levels; this routes them into our JSON log at matching severity,
 * demoting what kafkajs retries by itself so that a broker restart is not a wall of errors.
 *
 * @example
 *   new Kafka({ brokers, logCreator: kafkaLogCreator });
 */
export function kafkaLogCreator() {
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
