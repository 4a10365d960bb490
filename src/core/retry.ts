import { setTimeout as sleep } from 'node:timers/promises';

/** How `withRetry` retries: how often, how long, and which errors. */
export interface RetryOptions {
  /** Attempts after the first. `Infinity` with `maxElapsedMs` bounds the retries by time alone. */
  retries: number;
  /** Backoff cap of the first retry; it doubles per attempt up to `maxMs`. */
  initialMs: number;
  maxMs: number;
  /**
   * Shortest sleep (default 0): each sleep is then uniform in [minMs, cap]. For a retry that
   * must give a concurrent writer time to finish, where an immediate retry meets the same race.
   */
  minMs?: number;
  /** No retry starts once this long has passed since the first attempt (or would sleep past it). */
  maxElapsedMs?: number;
  /** Only errors this accepts are retried; anything else is thrown at once. Default: every error. */
  retriable?: (err: unknown) => boolean;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Aborting stops the retries: the last error is thrown. */
  signal?: AbortSignal;
}

/** Clock and randomness of `withRetry`, replaceable so unit tests need no real sleeps. */
export interface RetryClock {
  now(): number;
  random(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const realClock: RetryClock = {
  now: Date.now,
  random: Math.random,
  sleep: (ms, signal) => sleep(ms, undefined, { signal }).catch(() => {}),
};

/**
 * Retries `fn` with exponential backoff and full jitter (each sleep is uniform in
 * [minMs (default 0), min(maxMs, initialMs·2^attempt)]), only while `retriable(err)` holds, at
 * most `retries` times and, given `maxElapsedMs`, no longer than that. Full jitter spreads the
 * retries of many clients hit by the same outage (a leader election) instead of letting them
 * retry in step. The last error is thrown as it is.
 *
 * @example
 *   await withRetry(() => admin.fetchTopicOffsets(topic), {
 *     retries: Infinity, initialMs: 100, maxMs: 2000, maxElapsedMs: 60_000, retriable: isTransientKafkaError,
 *   });
 */
export async function withRetry<T>(
  fn: () => Promise<T>,
  opts: RetryOptions,
  clock: RetryClock = realClock,
): Promise<T> {
  const started = clock.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= opts.retries || opts.signal?.aborted || (opts.retriable && !opts.retriable(err))) throw err;
      const minMs = opts.minMs ?? 0;
      const cap = Math.max(minMs, Math.min(opts.maxMs, opts.initialMs * 2 ** attempt));
      const delayMs = Math.round(minMs + clock.random() * (cap - minMs));
      if (opts.maxElapsedMs !== undefined && clock.now() + delayMs - started > opts.maxElapsedMs) throw err;
      opts.onRetry?.(err, attempt + 1, delayMs);
      await clock.sleep(delayMs, opts.signal);
      if (opts.signal?.aborted) throw err;
    }
  }
}
