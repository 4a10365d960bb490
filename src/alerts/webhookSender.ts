import { errorCode } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { withRetry } from '../core/retry.ts';
import type { WebhookTarget } from './alertRules.ts';
import type { IncidentChange } from './incidentTracker.ts';
import { fetchFailure } from './fetchFailure.ts';
import { webhookBody } from './webhookPayload.ts';

/** The lines the sender logs: a pino logger, or a recorder in tests. */
export interface SenderLog {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface WebhookSenderOptions {
  /** Longest one POST may take (default 5 s). */
  timeoutMs?: number;
  /** Attempts per POST before it is given up (default 5). */
  attempts?: number;
  /** POSTs waiting per webhook; beyond, the oldest is dropped (default 100). */
  queueSize?: number;
  /** Backoff of the first retry, doubling per attempt up to `maxBackoffMs` (full jitter; default 500 ms, 30 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  log?: SenderLog;
}

export interface WebhookSender {
  /** Queues the change for every webhook and returns at once: never waits on a receiver, never throws. */
  send(change: IncidentChange): void;
  /** Resolves true once every queue is empty and nothing is in flight, false at the timeout. */
  idle(timeoutMs: number): Promise<boolean>;
  /** Counts so far, per webhook position (1-based): delivered, given up, dropped. */
  stats(): { delivered: number; failed: number; dropped: number }[];
  /** Stops: the POST in flight is aborted, queued ones are dropped. */
  close(): Promise<void>;
}

/** A failed POST; `retriable` unless the receiver said the request itself is wrong (4xx but 408/429). */
class WebhookError extends Error {
  readonly retriable: boolean;
  constructor(message: string, retriable: boolean) {
    super(message);
    this.retriable = retriable;
  }
}

/** How a webhook appears in logs: its position and origin, never its path or query (tokens live there). */
export function webhookLabel(target: WebhookTarget, index: number): string {
  let origin = 'invalid URL';
  try {
    origin = new URL(target.url).origin;
  } catch {
    /* the settings validate URLs; a direct caller may not */
  }
  return `#${index + 1} ${origin}`;
}

interface LaneSettings {
  timeoutMs: number;
  attempts: number;
  queueSize: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  log: SenderLog;
  closing: AbortSignal;
  /** Called whenever the lane may have become idle. */
  onIdle(): void;
}

/** One webhook: its ordered queue and the one POST in flight. */
class WebhookLane {
  readonly label: string;
  readonly queue: IncidentChange[] = [];
  busy = false;
  delivered = 0;
  failed = 0;
  dropped = 0;
  readonly #target: WebhookTarget;
  readonly #s: LaneSettings;

  constructor(target: WebhookTarget, index: number, settings: LaneSettings) {
    this.#target = target;
    this.#s = settings;
    this.label = webhookLabel(target, index);
  }

  get idle(): boolean {
    return !this.busy && this.queue.length === 0;
  }

  /** Queues a change (dropping the oldest when full) and starts the lane if it was idle. */
  push(change: IncidentChange): void {
    if (this.queue.length >= this.#s.queueSize) {
      const dropped = this.queue.shift()!;
      this.dropped++;
      this.#s.log.warn(
        {
          code: errorCode('ALERT_WEBHOOK_DROPPED'),
          webhook: this.label,
          incident: dropped.incident.key,
          event: dropped.kind,
          queueSize: this.#s.queueSize,
        },
        'webhook queue full; oldest incident change dropped',
      );
    }
    this.queue.push(change);
    void this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (let next = this.queue.shift(); next && !this.#s.closing.aborted; next = this.queue.shift())
        await this.#deliver(next);
    } finally {
      this.busy = false;
      this.#s.onIdle();
    }
  }

  async #deliver(change: IncidentChange): Promise<void> {
    const body = webhookBody(change, this.#target.format);
    const { closing, log } = this.#s;
    let tries = 0;
    try {
      await withRetry(
        () => {
          tries++;
          return this.#postOnce(body);
        },
        {
          retries: this.#s.attempts - 1,
          initialMs: this.#s.initialBackoffMs,
          maxMs: this.#s.maxBackoffMs,
          retriable: (err) => err instanceof WebhookError && err.retriable && !closing.aborted,
          signal: closing,
          onRetry: (err, attempt, delayMs) =>
            log.debug(
              { webhook: this.label, incident: change.incident.key, attempt, delayMs, err: (err as Error).message },
              'webhook POST failed; retrying',
            ),
        },
      );
      this.delivered++;
    } catch (err) {
      this.failed++;
      if (closing.aborted) return;
      log.warn(
        {
          code: errorCode('ALERT_WEBHOOK_FAILED'),
          webhook: this.label,
          incident: change.incident.key,
          event: change.kind,
          attempts: tries,
          err: (err as Error).message,
        },
        'webhook gave up on an incident',
      );
    }
  }

  async #postOnce(body: string): Promise<void> {
    const { timeoutMs, closing } = this.#s;
    let res: Response;
    try {
      res = await fetch(this.#target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'sluice-alerts' },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), closing]),
        redirect: 'error',
      });
    } catch (err) {
      throw new WebhookError(`POST failed: ${fetchFailure(err, timeoutMs)}`, true);
    }
    await res.arrayBuffer().catch(() => undefined); // frees the connection
    if (res.ok) return;
    const retriable = res.status >= 500 || res.status === 408 || res.status === 429;
    throw new WebhookError(`POST answered HTTP ${res.status}`, retriable);
  }
}

/**
 * Delivers incident changes to webhooks, one ordered lane per webhook, each POST with a timeout
 * and retried with exponential backoff and jitter (`withRetry`), given up after `attempts` with
 * `SLUICE_ERR_ALERT_WEBHOOK_FAILED`. A slow or failing receiver holds up only its own lane: `send`
 * never waits, a full lane drops its oldest change (`SLUICE_ERR_ALERT_WEBHOOK_DROPPED`), and the
 * incidents topic stays the record of truth. URLs are never logged, only `webhookLabel`.
 *
 * @example
 *   const sender = createWebhookSender(cfg.alertWebhooks, { timeoutMs: cfg.alertWebhookTimeoutMs });
 *   sender.send({ kind: 'opened', incident });
 */
export function createWebhookSender(targets: readonly WebhookTarget[], opts: WebhookSenderOptions = {}): WebhookSender {
  const closing = new AbortController();
  let idleWaiters: (() => void)[] = [];
  const isIdle = () => lanes.every((l) => l.idle);
  const settings: LaneSettings = {
    timeoutMs: opts.timeoutMs ?? 5_000,
    attempts: opts.attempts ?? 5,
    queueSize: opts.queueSize ?? 100,
    initialBackoffMs: opts.initialBackoffMs ?? 500,
    maxBackoffMs: opts.maxBackoffMs ?? 30_000,
    log: opts.log ?? createLogger('alerts'),
    closing: closing.signal,
    onIdle() {
      if (!isIdle()) return;
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    },
  };
  const lanes = targets.map((target, i) => new WebhookLane(target, i, settings));

  return {
    send(change) {
      if (closing.signal.aborted) return;
      for (const lane of lanes) lane.push(change);
    },
    idle(waitMs) {
      if (isIdle()) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          resolve(true);
        };
        const timer = setTimeout(() => {
          idleWaiters = idleWaiters.filter((w) => w !== done);
          resolve(false);
        }, waitMs);
        idleWaiters.push(done);
      });
    },
    stats: () => lanes.map((l) => ({ delivered: l.delivered, failed: l.failed, dropped: l.dropped })),
    async close() {
      closing.abort();
      for (const lane of lanes) lane.queue.length = 0;
      settings.onIdle();
    },
  };
}
