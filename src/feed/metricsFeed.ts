import type http from 'node:http';
import type client from 'prom-client';
import { WebSocketServer } from 'ws';
import type { Config } from '../config/config.ts';
import { createKafkaClient, type KafkaClient } from '../kafka/createKafkaClient.ts';
import { createAvroSerde, type AvroSerde } from '../serde/avroSerde.ts';
import { createRegistryClient } from '../serde/schemaRegistry.ts';
import { piiMaskingOf, piiPoliciesOf } from '../pii/piiMasking.ts';
import { zoneActions } from '../pii/piiPolicy.ts';
import { registryMarks, withPiiMasking } from '../pii/piiMaskingSerde.ts';
import { feedTokenOf } from './feedToken.ts';
import type { SubscriptionContext } from './clientSubscription.ts';
import { parseAllowedOrigins } from './feedAccess.ts';
import { FeedConnections } from './feedConnections.ts';
import { createFeedMetrics, type FeedMetrics } from './feedMetrics.ts';
import { createUpgradeHandler, type UpgradeGate } from './feedUpgrade.ts';
import { createMetricsLog, type MetricsLog, type MetricsLogOptions } from './metricsLog.ts';
import { serveClient } from './serveClient.ts';
import { attachIncidentsFeed } from '../alerts/incidentsFeed.ts';

/** Options of `attachMetricsFeed`; each limit defaults to its `SLUICE_FEED_*` setting or the value named. */
export interface MetricsFeedOptions extends Omit<Partial<MetricsLogOptions>, 'kafka' | 'serde'> {
  /** URL path of the WebSocket endpoint (default `/ws`). */
  path?: string;
  /** Prometheus registry for the feed's metrics (the engine's, inside the runner). */
  registry?: client.Registry;
  kafka?: KafkaClient;
  serde?: AvroSerde;
  /** Default: SLUICE_FEED_ALLOWED_ORIGINS. */
  allowedOrigins?: string[];
  /** Default: SLUICE_FEED_TOKEN, else the generated one (see feedTokenOf); empty: no token required. */
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
  /** How long reading a resuming client's missed updates back from Kafka may take (default 60 s). */
  replayTimeoutMs?: number;
  /** How long a snapshot or replay waits for a client to read its send buffer before dropping it (default 30 s). */
  drainTimeoutMs?: number;
  /** WebSocket ping interval; a client that misses a pong is disconnected (default 30 s). */
  pingIntervalMs?: number;
  /** The incidents feed at `/ws/incidents` (default on, SLUICE_INCIDENTS_TOPIC); false turns it off. */
  incidents?: boolean | { topic?: string };
}

/** A running feed (see `attachMetricsFeed`). */
export interface MetricsFeed {
  /** Resolves once the feed has read the metric topics up to their end at start-up. */
  ready: Promise<void>;
  connections(): number;
  metrics: FeedMetrics;
  log: MetricsLog;
  close(): Promise<void>;
}

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
export function attachMetricsFeed(server: http.Server, cfg: Config, opts: MetricsFeedOptions = {}): MetricsFeed {
  const kafka = opts.kafka ?? createKafkaClient(cfg, `${cfg.kafkaClientId}-feed`);
  const serde = feedSerde(
    cfg,
    opts.serde ?? createAvroSerde(createRegistryClient(cfg), { maxMessageBytes: cfg.maxMessageBytes }),
  );
  const metrics = createFeedMetrics(opts.registry);
  const metricsLog = createMetricsLog({ ...opts, kafka, serde });
  const connections = new FeedConnections(
    {
      maxBufferedBytes: opts.maxBufferedBytes ?? 4 * 1024 * 1024,
      maxPendingPerClient: opts.maxPendingPerClient ?? 50_000,
      drainTimeoutMs: opts.drainTimeoutMs ?? 30_000,
    },
    metrics,
  );
  const ctx: SubscriptionContext = {
    connections,
    log: metricsLog,
    kafka,
    serde,
    metrics,
    maxReplayRecords: opts.maxReplayRecords ?? 1_000_000,
    replayTimeoutMs: opts.replayTimeoutMs,
  };
  metricsLog.onUpdate((u) => connections.publish(u));
  metricsLog.paceWith(() => connections.paceLive());
  metricsLog.onNewPartitions((metric, starts) => connections.addPartitions(metric, starts));

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.maxPayload ?? cfg.feedMaxFrameBytes,
    perMessageDeflate: false,
    clientTracking: false,
  });
  let closed = false;
  const onUpgrade = createUpgradeHandler(server, upgradeGate(cfg, opts), {
    wss,
    metrics,
    openConnections: () => connections.size,
    isClosing: () => closed,
    onConnection: (ws) => serveClient(ws, ctx),
  });
  server.on('upgrade', onUpgrade);
  const incidents =
    opts.incidents === false
      ? undefined
      : attachIncidentsFeed(server, {
          kafka,
          topic: (typeof opts.incidents === 'object' && opts.incidents.topic) || cfg.incidentsTopic,
          gate: upgradeGate(cfg, opts),
          metrics,
          otherConnections: () => connections.size,
        });
  const pingTimer = setInterval(() => connections.pingAll(), opts.pingIntervalMs ?? 30_000);
  pingTimer.unref();

  return {
    ready: metricsLog.ready,
    connections: () => connections.size,
    metrics,
    log: metricsLog,
    async close() {
      if (closed) return;
      closed = true;
      server.off('upgrade', onUpgrade);
      await incidents?.close();
      clearInterval(pingTimer);
      connections.closeAll();
      await metricsLog.close();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function upgradeGate(cfg: Config, opts: MetricsFeedOptions): UpgradeGate {
  return {
    path: opts.path ?? '/ws',
    allowedOrigins: opts.allowedOrigins ?? parseAllowedOrigins(cfg.feedAllowedOrigins),
    token: opts.token ?? feedTokenOf(cfg),
    maxConnections: opts.maxConnections ?? cfg.feedMaxConnections,
  };
}

/**
 * The feed zone's PII policy (SLUICE_PII_FEED) on what the feed decodes: fields a metric's writer
 * schema marks are masked before any client sees them. The feed reads what silver feeds, so with
 * the same policy as silver (the default) values pass on as they are and nothing is wrapped.
 */
function feedSerde(cfg: Config, serde: AvroSerde): AvroSerde {
  const action = zoneActions(piiPoliciesOf(cfg)).feed;
  if (action === 'pass' || action === 'keep') return serde;
  const mask = piiMaskingOf(cfg).maskerFor('feed');
  return mask ? withPiiMasking(serde, registryMarks(cfg), mask) : serde;
}
