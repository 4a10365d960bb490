/** kafkajs' default rebalance timeout, which it also uses when none is given. */
export const KAFKAJS_REBALANCE_TIMEOUT_MS = 60_000;

/**
 * Heartbeats while a batch (or message) handler runs. kafkajs heartbeats only between batches,
 * so a handler that waits longer than the session timeout (a state restore, a registry outage)
 * got its member evicted: with the 6 s session, a 9 s batch was re-delivered to a rejoined
 * member. The Java client heartbeats from a background thread and bounds processing by
 * max.poll.interval.ms; likewise this stops after `maxProcessingMs` (the rebalance timeout), so
 * a handler that hangs lets the session lapse and its partitions go to another member.
 *
 * @example
 *   consumer.run({ eachBatch: keepSessionAlive(handle, { heartbeatInterval: 2000, maxProcessingMs: 60_000 }) });
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
