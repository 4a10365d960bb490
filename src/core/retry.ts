import { setTimeout as sleep } from 'node:timers/promises';

/** Retries `fn` with exponential backoff and full jitter, only while `retriable(err)` holds. */
export async function withRetry<T>(fn: () => Promise<T>, opts: {
  retries: number;
  initialMs: number;
  maxMs: number;
  retriable?: (err: unknown) => boolean;
  onRetry?: (err: unknown, attempt: number) => void;
  signal?: AbortSignal;
}): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= opts.retries || opts.signal?.aborted || (opts.retriable && !opts.retriable(err))) throw err;
      opts.onRetry?.(err, attempt + 1);
      const cap = Math.min(opts.maxMs, opts.initialMs * 2 ** attempt);
      await sleep(Math.round(cap / 2 + Math.random() * cap / 2));
    }
  }
}
