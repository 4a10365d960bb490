import type { Config } from '../config/config.ts';

/** Options of `KafkaClient.consumer`. */
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

/**
 * Group timings of a consumer. A SIGKILLed member holds its partitions until its session times
 * out, so the session is short (the broker's minimum by default). kafkajs heartbeats only from
 * its fetch loop (no background thread, unlike the Java client): the idle fetch wait must stay
 * well under the session, or an idle consumer would be evicted between two empty fetches.
 *
 * @example
 *   const { sessionTimeout, heartbeatInterval } = consumerTimings(cfg); // 6000, 2000
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
