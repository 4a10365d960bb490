/**
 * Rate limiting and progress reporting shared by the generators.
 */

/** Waits `ms`, resolving early (without throwing) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Token bucket: `rate` tokens per second, holding at most `burst` tokens. A non-finite or
 * non-positive rate means unlimited.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  readonly rate: number;
  readonly burst: number;
  private readonly now: () => number;

  constructor(rate: number, burst = Math.max(1, rate / 10), now: () => number = () => performance.now()) {
    this.rate = rate;
    this.burst = burst;
    this.now = now;
    this.tokens = Math.min(burst, 1);
    this.last = now();
  }

  get unlimited(): boolean {
    return !Number.isFinite(this.rate) || this.rate <= 0;
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
  }

  /** Takes up to `max` whole tokens now (at least 1 when unlimited); 0 when the bucket is empty. */
  take(max: number): number {
    if (this.unlimited) return max;
    this.refill();
    const n = Math.min(max, Math.floor(this.tokens));
    this.tokens -= n;
    return n;
  }

  /** Milliseconds until one token is available. */
  waitMs(): number {
    if (this.unlimited) return 0;
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }
}

/**
 * A single progress line on stderr, rewritten in place every `intervalMs` when stderr is a
 * terminal (one plain line per interval otherwise, when `enabled` is forced on).
 */
export function startProgress(
  render: (elapsedMs: number) => string,
  opts: { enabled?: boolean; intervalMs?: number; stream?: NodeJS.WriteStream } = {},
): { stop(finalLine?: boolean): void } {
  const stream = opts.stream ?? process.stderr;
  const enabled = opts.enabled ?? Boolean(stream.isTTY);
  const t0 = performance.now();
  if (!enabled) return { stop() {} };
  const tty = Boolean(stream.isTTY);
  let width = 0;
  const draw = () => {
    const line = render(performance.now() - t0);
    if (tty) {
      stream.write(`\r${line}${' '.repeat(Math.max(0, width - line.length))}`);
      width = line.length;
    } else {
      stream.write(`${line}\n`);
    }
  };
  const timer = setInterval(draw, opts.intervalMs ?? 1000);
  timer.unref();
  return {
    stop(finalLine = true) {
      clearInterval(timer);
      if (finalLine) draw();
      if (tty) stream.write('\n');
    },
  };
}

/** "30s", "5m", "1h", "1500ms", "90" (seconds) → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!m) throw new RangeError(`"${text}" is not a duration (examples: 30s, 5m, 1h, 1500ms)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  const factor =
    unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : unit === 'h' ? 3_600_000 : 86_400_000;
  return Math.round(n * factor);
}

/** `n` items over `elapsedMs` as a rate: `850/s`, or `12.3k/s` from 10 000 a second. */
export function formatRate(n: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (n * 1000) / elapsedMs : 0;
  return rate >= 10_000 ? `${(rate / 1000).toFixed(1)}k/s` : `${rate.toFixed(0)}/s`;
}
