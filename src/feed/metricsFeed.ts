import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type client from 'prom-client';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config/config.ts';
import { createLogger } from '../core/log.ts';
import { createKafkaClient, type KafkaClient } from '../kafka/createKafkaClient.ts';
import { createAvroSerde, type AvroSerde } from '../serde/avroSerde.ts';
import { createRegistryClient } from '../serde/schemaRegistry.ts';
import { originAllowed, parseAllowedOrigins, presentedToken, refuseUpgrade, tokenMatches } from './feedAccess.ts';
import { CursorError, decodeCursor, encodeCursor, parseTpKey } from './feedCursor.ts';
import { createFeedMetrics, type FeedMetrics } from './feedMetrics.ts';
import { METRIC_NAME_PATTERN, metricOfTopic, topicOfMetric, updateMessage, type LoggedUpdate } from './feedUpdate.ts';
import { replayFromKafka, type ReplayRange } from './kafkaReplay.ts';
import { createMetricsLog, type MetricsLog, type MetricsLogOptions } from './metricsLog.ts';

/**
 * The WebSocket live metrics feed (SPEC §6) at `/ws` on an existing HTTP server. It serves any
 * `metrics.*` topic, whichever runner computed it.
 *
 * Protocol. The client sends one `{"subscribe": ["revenue_per_minute", ...], "cursor"?: "..."}`.
 * The server answers, in this order:
 * - without a cursor (or for subscribed metrics the cursor does not cover): the latest result per
 *   key, each as an update with `"snapshot": true`;
 * - with a cursor: every update after it (from memory, or read again from Kafka), oldest first
 *   per partition;
 * - `{"type":"ready","metrics":[...],"snapshot":n,"replayed":n,"reset":[...],"cursor"}` — from
 *   here on, live;
 * - every provisional and final update:
 *   `{"type":"update","metric","window":{"start","end"},"key","value","final","emittedAt","cursor"}`.
 * The cursor is base64url JSON of the next offset per metric topic-partition, so resuming with the
 * last cursor received yields exactly the updates missed — even from another feed instance or
 * after a restart. `reset` lists partitions whose cursor position Kafka no longer holds (deleted by
 * retention, or the topic was recreated): those resume from the oldest record still there.
 * Errors: `{"type":"error","code","message"}`, then a close (1008 for a bad request).
 *
 * Limits: Origin allow-list and optional bearer token, both checked before the upgrade; a
 * connection cap (503 beyond it); `maxPayload` for client frames (close 1009); a client whose
 * unsent data passes `maxBufferedBytes` is dropped (close 1013) instead of being buffered.
 *
 * @example
 *   const { server } = await startHttpServer('127.0.0.1', 8080, routes);
 *   const feed = attachMetricsFeed(server, cfg, { registry: metrics.registry });
 *   // ... later
 *   await feed.close();
 */
export interface MetricsFeedOptions extends Omit<Partial<MetricsLogOptions>, 'kafka' | 'serde'> {
  /** URL path of the WebSocket endpoint (default `/ws`). */
  path?: string;
  /** Prometheus registry for the feed's metrics (the engine's, inside the runner). */
  registry?: client.Registry;
  kafka?: KafkaClient;
  serde?: AvroSerde;
  /** Default: SLUICE_FEED_ALLOWED_ORIGINS. */
  allowedOrigins?: string[];
  /** Default: SLUICE_FEED_TOKEN (empty: no token required). */
  token?: string;
  /** Default: SLUICE_FEED_MAX_CONNECTIONS. */
  maxConnections?: number;
  /** Largest client frame in bytes. Default: SLUICE_FEED_MAX_FRAME_BYTES. */
  maxPayload?: number;
  /** A client with more unsent bytes than this is dropped (default 4 MiB). */
  maxBufferedBytes?: number;
  /** Live updates queued for one client while it is being resumed (default 50,000). */
  maxPendingPerClient?: number;
  /** A cursor further behind than this many records is answered with a snapshot instead (default 1,000,000). */
  maxReplayRecords?: number;
  replayTimeoutMs?: number;
  /** How long a snapshot or replay waits for a client to read its send buffer before dropping it (default 30 s). */
  drainTimeoutMs?: number;
  /** WebSocket ping interval; a client that misses a pong is disconnected (default 30 s). */
  pingIntervalMs?: number;
}

export interface MetricsFeed {
  /** Resolves once the feed has read the metric topics up to their end at start-up. */
  ready: Promise<void>;
  connections(): number;
  metrics: FeedMetrics;
  log: MetricsLog;
  close(): Promise<void>;
}

interface FeedClient {
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

const log = createLogger('feed');
const MAX_SUBSCRIBED_METRICS = 100;

export function attachMetricsFeed(server: http.Server, cfg: Config, opts: MetricsFeedOptions = {}): MetricsFeed {
  const path = opts.path ?? '/ws';
  const allowedOrigins = opts.allowedOrigins ?? parseAllowedOrigins(cfg.feedAllowedOrigins);
  const token = opts.token ?? cfg.feedToken;
  const maxConnections = opts.maxConnections ?? cfg.feedMaxConnections;
  const maxPayload = opts.maxPayload ?? cfg.feedMaxFrameBytes;
  const maxBufferedBytes = opts.maxBufferedBytes ?? 4 * 1024 * 1024;
  const maxPending = opts.maxPendingPerClient ?? 50_000;
  const maxReplayRecords = opts.maxReplayRecords ?? 1_000_000;
  const lowWater = Math.floor(maxBufferedBytes / 4);
  const drainTimeoutMs = opts.drainTimeoutMs ?? 30_000;
  const kafka = opts.kafka ?? createKafkaClient(cfg, `${cfg.kafkaClientId}-feed`);
  const serde = opts.serde ?? createAvroSerde(createRegistryClient(cfg), { maxMessageBytes: cfg.maxMessageBytes });
  const metrics = createFeedMetrics(opts.registry);
  const metricsLog = createMetricsLog({ ...opts, kafka, serde });
  const wss = new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false, clientTracking: false });
  const clients = new Set<FeedClient>();
  const byMetric = new Map<string, Set<FeedClient>>();
  let closed = false;

  function send(c: FeedClient, text: string): boolean {
    if (c.closed) return false;
    if (c.ws.bufferedAmount > maxBufferedBytes) {
      drop(c, 1013, 'client too slow: unsent data over the limit', 'slow');
      return false;
    }
    c.ws.send(text);
    metrics.messagesSent.inc();
    return true;
  }

  function sendControl(c: FeedClient, msg: Record<string, unknown>): void {
    send(c, JSON.stringify(msg));
  }

  function deliver(c: FeedClient, u: LoggedUpdate): void {
    const pos = c.delivered.get(u.tp);
    if (pos !== undefined && u.offset < pos) return; // already sent (replay and live overlap)
    c.delivered.set(u.tp, u.offset + 1);
    send(c, updateMessage(u.body, encodeCursor(c.delivered)));
  }

  function detach(c: FeedClient): void {
    if (c.closed) return;
    c.closed = true;
    c.abort.abort();
    c.pending = undefined;
    clients.delete(c);
    metrics.connections.dec();
    for (const m of c.metrics ?? []) {
      const set = byMetric.get(m);
      set?.delete(c);
      if (set?.size === 0) byMetric.delete(m);
    }
  }

  function drop(c: FeedClient, code: number, reason: string, counted?: string): void {
    if (c.closed) return;
    detach(c);
    if (counted) metrics.clientsDropped.inc({ reason: counted });
    log.info({ code, reason }, 'live feed client disconnected by the server');
    c.ws.close(code, reason);
    // A client that does not read will not read the close frame either.
    setTimeout(() => c.ws.terminate(), 1_000).unref();
  }

  function fail(c: FeedClient, code: string, message: string, closeCode = 1008): void {
    sendControl(c, { type: 'error', code, message });
    drop(c, closeCode, message.slice(0, 120));
  }

  metricsLog.onUpdate((u) => {
    const subscribers = byMetric.get(u.metric);
    if (!subscribers) return;
    for (const c of subscribers) {
      if (c.pending) {
        c.pending.push(u);
        if (c.pending.length > maxPending) drop(c, 1013, 'client too far behind while resuming', 'behind');
      } else {
        deliver(c, u);
      }
    }
  });

  // A subscribed metric's new partitions join its clients' cursors at once, so a client that
  // leaves before their first record still resumes them from the start, not from a snapshot.
  metricsLog.onNewPartitions((metric, starts) => {
    for (const c of byMetric.get(metric) ?? [])
      for (const [tp, pos] of starts) if (!c.delivered.has(tp)) c.delivered.set(tp, pos);
  });

  async function subscribe(c: FeedClient, metricsWanted: string[], cursorText: unknown): Promise<void> {
    let cursor: Map<string, number> | undefined;
    if (cursorText !== undefined && cursorText !== null) {
      try {
        cursor = decodeCursor(cursorText);
      } catch (err) {
        if (err instanceof CursorError) {
          fail(c, 'INVALID_CURSOR', `${err.message}; subscribe without a cursor to start from a snapshot`);
          return;
        }
        throw err;
      }
    }
    await metricsLog.ready;
    if (c.closed) return;

    // From here to the first await: one synchronous step, so the snapshot, the positions it was
    // taken at and the start of the pending queue all agree.
    const wanted = new Set(metricsWanted);
    c.metrics = wanted;
    const covered = new Set<string>();
    for (const tp of cursor?.keys() ?? []) {
      const m = metricOfTopic(parseTpKey(tp).topic);
      if (m && wanted.has(m)) covered.add(m);
    }
    const fresh = [...wanted].filter((m) => !covered.has(m));
    for (const m of fresh) for (const [tp, pos] of metricsLog.positions(m)) c.delivered.set(tp, pos);
    const ends = new Map<string, number>();
    for (const m of covered) for (const [tp, pos] of metricsLog.positions(m)) ends.set(tp, pos);
    for (const [tp, pos] of cursor ?? [])
      if (covered.has(metricOfTopic(parseTpKey(tp).topic)!)) c.delivered.set(tp, pos);
    c.pending = [];
    for (const m of wanted) {
      let set = byMetric.get(m);
      if (!set) {
        set = new Set();
        byMetric.set(m, set);
      }
      set.add(c);
    }
    const freshItems = captureSnapshot(fresh);
    const freshCursor = encodeCursor(c.delivered);

    let snapshot = await sendSnapshot(c, freshItems, freshCursor);
    if (c.closed) return;

    // Resume: [cursor position, log position when the queue started) per partition; the pending
    // queue holds everything from that instant on.
    const reset: string[] = [];
    const ranges = new Map<string, ReplayRange>();
    for (const m of covered) {
      const marks = await metricsLog
        .watermarks(topicOfMetric(m))
        .catch(() => new Map<number, { low: number; high: number }>());
      if (c.closed) return;
      for (const [tp, to] of ends) {
        if (metricOfTopic(parseTpKey(tp).topic) !== m) continue;
        const wm = marks.get(parseTpKey(tp).partition);
        let from = c.delivered.get(tp);
        if (wm && (from === undefined || from < wm.low || from > wm.high)) {
          if (from !== undefined) reset.push(tp);
          from = wm.low;
        }
        if (from === undefined) continue;
        c.delivered.set(tp, from);
        if (from < to) ranges.set(tp, { from, to });
      }
    }
    const behind = [...ranges.values()].reduce((n, r) => n + (r.to - r.from), 0);
    let replayed = 0;
    let source = 'none';
    if (behind > maxReplayRecords) {
      // Too far behind to replay record by record: the latest state is what the client can use.
      // Positions and snapshot are taken in one step; queued updates before them are skipped.
      for (const tp of ranges.keys()) reset.push(tp);
      ranges.clear();
      for (const m of covered) for (const [tp, pos] of metricsLog.positions(m)) c.delivered.set(tp, pos);
      snapshot += await sendSnapshot(c, captureSnapshot([...covered]), encodeCursor(c.delivered));
      if (c.closed) return;
    }
    for (const [tp, r] of [...ranges]) {
      const items = metricsLog.fromMemory(tp, r.from, r.to);
      if (!items) continue;
      ranges.delete(tp);
      source = 'memory';
      for (const u of items) {
        if (!(await roomFor(c))) return;
        deliver(c, u);
        replayed++;
      }
    }
    if (ranges.size) {
      source = 'kafka';
      try {
        replayed += await replayFromKafka({
          kafka,
          serde,
          ranges,
          signal: c.abort.signal,
          timeoutMs: opts.replayTimeoutMs,
          onUpdate: (u) => deliver(c, u),
          afterBatch: async () => {
            await roomFor(c);
          },
        });
      } catch (err) {
        if (c.closed) return;
        log.warn(
          { code: 'SLUICE_ERR_FEED_REPLAY_FAILED', err: (err as Error).message },
          'cannot replay from Kafka for a resuming client',
        );
        metrics.clientsDropped.inc({ reason: 'replay_failed' });
        fail(
          c,
          'REPLAY_FAILED',
          'the updates after your cursor cannot be read now; reconnect with the same cursor later',
          1011,
        );
        return;
      }
    }
    if (c.closed) return;
    if (cursor) metrics.resumes.inc({ source });
    // Live updates that arrived meanwhile, in arrival order; more may queue while this drains.
    while (c.pending?.length) {
      const queued = c.pending;
      c.pending = [];
      for (const u of queued) {
        if (!(await roomFor(c))) return;
        deliver(c, u);
      }
    }
    c.pending = undefined;
    sendControl(c, {
      type: 'ready',
      metrics: [...wanted],
      snapshot,
      replayed,
      reset,
      cursor: encodeCursor(c.delivered),
    });
  }

  /** The latest result per key of these metrics, taken now (the caller sends it later). */
  function captureSnapshot(metricNames: string[]): LoggedUpdate[] {
    return metricNames.flatMap((m) => metricsLog.snapshot(m));
  }

  async function sendSnapshot(c: FeedClient, items: LoggedUpdate[], cursor: string): Promise<number> {
    let n = 0;
    for (const u of items) {
      if (!(await roomFor(c))) return n;
      if (!send(c, updateMessage(u.body, cursor, { snapshot: true }))) return n;
      n++;
    }
    return n;
  }

  /**
   * Snapshots and replays are bounded, so they wait for the client to read instead of dropping
   * it: below a quarter of the send limit, or drop it as slow after `drainTimeoutMs`.
   */
  async function roomFor(c: FeedClient): Promise<boolean> {
    if (c.closed) return false;
    if (c.ws.bufferedAmount <= lowWater) return true;
    const deadline = Date.now() + drainTimeoutMs;
    while (!c.closed && c.ws.bufferedAmount > lowWater) {
      if (Date.now() > deadline) {
        drop(c, 1013, 'client too slow: unsent data over the limit', 'slow');
        return false;
      }
      await sleep(5);
    }
    return !c.closed;
  }

  function onMessage(c: FeedClient, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (c.closed) return;
    if (isBinary) {
      fail(c, 'INVALID_REQUEST', 'send JSON text frames');
      return;
    }
    if (c.metrics) {
      fail(c, 'ALREADY_SUBSCRIBED', 'one subscribe per connection; reconnect (with your cursor) to change it');
      return;
    }
    let msg: unknown;
    try {
      msg = JSON.parse(
        Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'),
      );
    } catch {
      fail(c, 'INVALID_REQUEST', 'the message is not JSON');
      return;
    }
    const sub = (msg as { subscribe?: unknown } | null)?.subscribe;
    if (
      !Array.isArray(sub) ||
      sub.length === 0 ||
      sub.length > MAX_SUBSCRIBED_METRICS ||
      !sub.every((m) => typeof m === 'string' && METRIC_NAME_PATTERN.test(m))
    ) {
      fail(
        c,
        'INVALID_SUBSCRIBE',
        `expected {"subscribe": ["revenue_per_minute", ...], "cursor"?: "..."} with 1 to ${MAX_SUBSCRIBED_METRICS} metric names`,
      );
      return;
    }
    c.metrics = new Set(); // claims the one subscribe while the log may still be catching up
    subscribe(c, sub as string[], (msg as { cursor?: unknown }).cursor).catch((err) => {
      log.error(
        { code: 'SLUICE_ERR_INTERNAL', err: String((err as Error)?.stack ?? err) },
        'live feed subscribe failed',
      );
      fail(c, 'INTERNAL', 'subscribe failed', 1011);
    });
  }

  function onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://feed.invalid');
    } catch {
      refuseUpgrade(socket, 400, 'bad request');
      return;
    }
    if (url.pathname !== path) {
      // Another handler may serve that path; answer only when nobody else can.
      if (server.listenerCount('upgrade') <= 1) refuseUpgrade(socket, 404, 'not found');
      return;
    }
    socket.on('error', () => socket.destroy());
    if (closed) {
      metrics.upgradesRejected.inc({ reason: 'closing' });
      refuseUpgrade(socket, 503, 'the feed is shutting down', { 'Retry-After': '5' });
      return;
    }
    if (!originAllowed(req, allowedOrigins)) {
      metrics.upgradesRejected.inc({ reason: 'origin' });
      refuseUpgrade(socket, 403, 'origin not allowed (SLUICE_FEED_ALLOWED_ORIGINS)');
      return;
    }
    if (token && !tokenMatches(token, presentedToken(req, url))) {
      metrics.upgradesRejected.inc({ reason: 'token' });
      refuseUpgrade(socket, 401, 'a valid bearer token is required', {
        'WWW-Authenticate': 'Bearer realm="sluice-feed"',
      });
      return;
    }
    if (clients.size >= maxConnections) {
      metrics.upgradesRejected.inc({ reason: 'capacity' });
      refuseUpgrade(socket, 503, 'too many live feed connections', { 'Retry-After': '5' });
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const c: FeedClient = { ws, delivered: new Map(), closed: false, alive: true, abort: new AbortController() };
      clients.add(c);
      metrics.connections.inc();
      ws.on('message', (data, isBinary) => onMessage(c, data, isBinary));
      ws.on('pong', () => {
        c.alive = true;
      });
      ws.on('close', () => detach(c));
      ws.on('error', (err) => {
        log.debug({ err: err.message }, 'live feed client error');
        detach(c);
      });
    });
  }

  server.on('upgrade', onUpgrade);
  const pingTimer = setInterval(() => {
    for (const c of clients) {
      if (!c.alive) {
        detach(c);
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }, opts.pingIntervalMs ?? 30_000);
  pingTimer.unref();

  return {
    ready: metricsLog.ready,
    connections: () => clients.size,
    metrics,
    log: metricsLog,
    async close() {
      if (closed) return;
      closed = true;
      server.off('upgrade', onUpgrade);
      clearInterval(pingTimer);
      for (const c of [...clients]) {
        detach(c);
        c.ws.close(1001, 'feed shutting down');
        setTimeout(() => c.ws.terminate(), 1_000).unref();
      }
      await metricsLog.close();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
