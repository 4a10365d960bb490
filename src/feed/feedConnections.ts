import { setTimeout as sleep } from 'node:timers/promises';
import type { WebSocket } from 'ws';
import { createLogger } from '../core/log.ts';
import { encodeCursor } from './feedCursor.ts';
import type { FeedMetrics } from './feedMetrics.ts';
import { updateMessage, type LoggedUpdate } from './feedUpdate.ts';

/** One WebSocket client of the feed and what it has been sent. */
export interface FeedClient {
  ws: WebSocket;
  metrics?: Set<string>;
  /** Next offset this client has not received, per partition: what its cursor says. */
  delivered: Map<string, number>;
  /** While resuming, live updates wait here so that they follow the replay in offset order. */
  pending?: LoggedUpdate[];
  closed: boolean;
  alive: boolean;
  abort: AbortController;
}

/** How much a client may fall behind before it is dropped. */
export interface ConnectionLimits {
  /** A client with more unsent bytes than this is dropped. */
  maxBufferedBytes: number;
  /** Live updates queued for one client while it is being resumed. */
  maxPendingPerClient: number;
  /** How long a snapshot or replay waits for a client to read its send buffer before dropping it. */
  drainTimeoutMs: number;
}

const log = createLogger('feed');

/**
 * A client over the low-water mark whose unsent bytes have not gone down for this long is not
 * reading: live pacing stops waiting for it (it is dropped once over the limit).
 */
const STALLED_CLIENT_MS = 1_000;

/**
 * The feed's open connections, indexed by subscribed metric, and the one way anything reaches
 * them: every send checks the client's unsent bytes, every disconnect is counted once.
 *
 * @example
 *   const connections = new FeedConnections(limits, metrics);
 *   const c = connections.add(ws);
 *   connections.sendControl(c, { type: 'ready' });
 */
export class FeedConnections {
  readonly clients = new Set<FeedClient>();
  readonly #byMetric = new Map<string, Set<FeedClient>>();
  readonly #limits: ConnectionLimits;
  readonly #metrics: FeedMetrics;
  /** Bounded sends wait until the client's unsent data is below this. */
  readonly #lowWater: number;

  constructor(limits: ConnectionLimits, metrics: FeedMetrics) {
    this.#limits = limits;
    this.#metrics = metrics;
    this.#lowWater = Math.floor(limits.maxBufferedBytes / 4);
  }

  get size(): number {
    return this.clients.size;
  }

  /** A new connection, not subscribed yet. */
  add(ws: WebSocket): FeedClient {
    const c: FeedClient = { ws, delivered: new Map(), closed: false, alive: true, abort: new AbortController() };
    this.clients.add(c);
    this.#metrics.connections.inc();
    return c;
  }

  /** From now on, live updates of these metrics go to `c`. */
  subscribe(c: FeedClient, metrics: Iterable<string>): void {
    for (const m of metrics) {
      let set = this.#byMetric.get(m);
      if (!set) {
        set = new Set();
        this.#byMetric.set(m, set);
      }
      set.add(c);
    }
  }

  /** A live update, to every subscriber: queued for those being resumed, sent to the others. */
  publish(u: LoggedUpdate): void {
    const subscribers = this.#byMetric.get(u.metric);
    if (!subscribers) return;
    for (const c of subscribers) {
      if (c.pending) {
        c.pending.push(u);
        if (c.pending.length > this.#limits.maxPendingPerClient)
          this.drop(c, 1013, 'client too far behind while resuming', 'behind');
      } else {
        this.deliver(c, u);
      }
    }
  }

  /**
   * A subscribed metric's new partitions join its clients' cursors at once, so a client that
   * leaves before their first record still resumes them from the start, not from a snapshot.
   */
  addPartitions(metric: string, starts: Map<string, number>): void {
    for (const c of this.#byMetric.get(metric) ?? [])
      for (const [tp, pos] of starts) if (!c.delivered.has(tp)) c.delivered.set(tp, pos);
  }

  /** Sends unless the client is gone or too slow (then drops it); true when sent. */
  send(c: FeedClient, text: string): boolean {
    if (c.closed) return false;
    if (c.ws.bufferedAmount > this.#limits.maxBufferedBytes) {
      this.drop(c, 1013, 'client too slow: unsent data over the limit', 'slow');
      return false;
    }
    c.ws.send(text);
    this.#metrics.messagesSent.inc();
    return true;
  }

  sendControl(c: FeedClient, msg: Record<string, unknown>): void {
    this.send(c, JSON.stringify(msg));
  }

  /** An update with the client's cursor after it, unless the client already has it. */
  deliver(c: FeedClient, u: LoggedUpdate): void {
    const pos = c.delivered.get(u.tp);
    if (pos !== undefined && u.offset < pos) return; // already sent (replay and live overlap)
    c.delivered.set(u.tp, u.offset + 1);
    this.send(c, updateMessage(u.body, encodeCursor(c.delivered)));
  }

  /** Snapshot items with the cursor they were taken at; resolves with how many were sent. */
  async sendSnapshot(c: FeedClient, items: LoggedUpdate[], cursor: string): Promise<number> {
    let n = 0;
    for (const u of items) {
      if (!(await this.roomFor(c))) return n;
      if (!this.send(c, updateMessage(u.body, cursor, { snapshot: true }))) return n;
      n++;
    }
    return n;
  }

  /**
   * Snapshots and replays are bounded, so they wait for the client to read instead of dropping
   * it: below a quarter of the send limit, or drop it as slow after `drainTimeoutMs`.
   */
  async roomFor(c: FeedClient): Promise<boolean> {
    if (c.closed) return false;
    if (c.ws.bufferedAmount <= this.#lowWater) return true;
    const deadline = Date.now() + this.#limits.drainTimeoutMs;
    while (!c.closed && c.ws.bufferedAmount > this.#lowWater) {
      if (Date.now() > deadline) {
        this.drop(c, 1013, 'client too slow: unsent data over the limit', 'slow');
        return false;
      }
      await sleep(5);
    }
    return !c.closed;
  }

  /**
   * Live updates arrive a fetch at a time (up to a megabyte per partition), so a client that
   * reads well can still be a few batches behind during a burst; the feed waits for it instead
   * of dropping it. Resolves once every client is below the low-water mark, or is not reading
   * (its unsent bytes did not go down for `STALLED_CLIENT_MS`), or after `drainTimeoutMs`.
   */
  async paceLive(): Promise<void> {
    let behind = [...this.clients].filter((c) => !c.closed && c.ws.bufferedAmount > this.#lowWater);
    if (!behind.length) return;
    const start = Date.now();
    const progress = new Map(behind.map((c) => [c, { bytes: c.ws.bufferedAmount, at: start }]));
    while (behind.length && Date.now() - start < this.#limits.drainTimeoutMs) {
      await sleep(5);
      const now = Date.now();
      behind = behind.filter((c) => {
        if (c.closed || c.ws.bufferedAmount <= this.#lowWater) return false;
        const seen = progress.get(c)!;
        if (c.ws.bufferedAmount < seen.bytes) {
          seen.bytes = c.ws.bufferedAmount;
          seen.at = now;
        }
        return now - seen.at < STALLED_CLIENT_MS;
      });
    }
  }

  /** Forgets a client (its socket closed or is being closed); idempotent. */
  detach(c: FeedClient): void {
    if (c.closed) return;
    c.closed = true;
    c.abort.abort();
    c.pending = undefined;
    this.clients.delete(c);
    this.#metrics.connections.dec();
    for (const m of c.metrics ?? []) {
      const set = this.#byMetric.get(m);
      set?.delete(c);
      if (set?.size === 0) this.#byMetric.delete(m);
    }
  }

  /** Disconnects a client; `counted` is the reason label of sluice_feed_clients_dropped_total. */
  drop(c: FeedClient, code: number, reason: string, counted?: string): void {
    if (c.closed) return;
    this.detach(c);
    if (counted) this.#metrics.clientsDropped.inc({ reason: counted });
    log.info({ code, reason }, 'live feed client disconnected by the server');
    c.ws.close(code, reason);
    // A client that does not read will not read the close frame either.
    setTimeout(() => c.ws.terminate(), 1_000).unref();
  }

  /** An error message for the client, then a close. */
  fail(c: FeedClient, code: string, message: string, closeCode = 1008): void {
    this.sendControl(c, { type: 'error', code, message });
    this.drop(c, closeCode, message.slice(0, 120));
  }

  /** Pings every client; one that did not answer the previous ping is disconnected. */
  pingAll(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        this.detach(c);
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  /** Closes every connection (the feed is shutting down). */
  closeAll(): void {
    for (const c of [...this.clients]) {
      this.detach(c);
      c.ws.close(1001, 'feed shutting down');
      setTimeout(() => c.ws.terminate(), 1_000).unref();
    }
  }
}
