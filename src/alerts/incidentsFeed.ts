import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { refuseUpgrade } from '../feed/feedAccess.ts';
import type { FeedMetrics } from '../feed/feedMetrics.ts';
import { createUpgradeHandler, type UpgradeGate } from '../feed/feedUpgrade.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { Incident } from './incident.ts';
import { createIncidentsView, type IncidentsView, type ViewChange } from './incidentsView.ts';

/** Where the dashboard finds the incidents feed, beside the metrics feed's `/ws`. */
export const INCIDENTS_FEED_PATH = '/ws/incidents';
/** Resolved incidents are listed this long after they resolved. */
const RECENT_MS = 24 * 60 * 60 * 1000;
/** A client with more unsent bytes than this is closed (1013) rather than buffered for. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export interface IncidentsFeedOptions {
  kafka: KafkaClient;
  topic: string;
  /** The metrics feed's gate: the same origins, token and connection cap; the path is replaced. */
  gate: UpgradeGate;
  metrics: FeedMetrics;
  /** Connections of the metrics feed, counted against the same cap. */
  otherConnections(): number;
}

export interface IncidentsFeed {
  view: IncidentsView;
  connections(): number;
  close(): Promise<void>;
}

/** What a client is sent first: the open incidents and those resolved within a day. */
export function incidentsSnapshot(incidents: readonly Incident[], now: number): Incident[] {
  return incidents.filter(
    (i) => i.status === 'open' || (i.resolvedAt !== null && now - Date.parse(i.resolvedAt) <= RECENT_MS),
  );
}

/**
 * The live incidents feed on the runner's HTTP server, at `/ws/incidents`, behind the metrics
 * feed's gate (Origin, bearer token, connection cap). A client is sent
 * `{"type":"incidents","incidents":[...]}` (open and recently resolved), then each change as
 * `{"type":"incident","incident":{...}}` or `{"type":"incident_removed","key"}`. It reads the
 * incidents topic itself, so every runner's dashboard shows every incident, whoever evaluated it.
 *
 * @example
 *   const incidents = attachIncidentsFeed(server, {
 *     kafka, topic: cfg.incidentsTopic, gate, metrics, otherConnections: () => feed.connections(),
 *   });
 */
export function attachIncidentsFeed(server: http.Server, opts: IncidentsFeedOptions): IncidentsFeed {
  const view = createIncidentsView(opts.kafka, opts.topic);
  const clients = new Set<WebSocket>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 1024,
    perMessageDeflate: false,
    clientTracking: false,
  });
  const gate = { ...opts.gate, path: INCIDENTS_FEED_PATH };
  let closing = false;
  const send = (ws: WebSocket, msg: object) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      ws.close(1013, 'too slow');
      return;
    }
    ws.send(JSON.stringify(msg));
    opts.metrics.messagesSent.inc();
  };
  const accepted = createUpgradeHandler(server, gate, {
    wss,
    metrics: opts.metrics,
    openConnections: () => clients.size + opts.otherConnections(),
    isClosing: () => closing,
    onConnection: (ws) => {
      clients.add(ws);
      opts.metrics.connections.inc();
      ws.on('close', () => {
        if (clients.delete(ws)) opts.metrics.connections.dec();
      });
      ws.on('error', () => ws.terminate());
      send(ws, { type: 'incidents', incidents: incidentsSnapshot(view.list(), Date.now()) });
    },
  });
  // Both feeds listen for upgrades; this one answers 404 for paths neither serves.
  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://feed.invalid').pathname;
    } catch {
      refuseUpgrade(socket, 400, 'bad request');
      return;
    }
    if (path === INCIDENTS_FEED_PATH) accepted(req, socket, head);
    else if (path !== opts.gate.path) refuseUpgrade(socket, 404, 'not found');
  };
  server.on('upgrade', onUpgrade);
  const unsubscribe = view.onChange((c: ViewChange) => {
    const msg =
      'incident' in c ? { type: 'incident', incident: c.incident } : { type: 'incident_removed', key: c.removed };
    for (const ws of clients) send(ws, msg);
  });
  return {
    view,
    connections: () => clients.size,
    async close() {
      closing = true;
      server.off('upgrade', onUpgrade);
      unsubscribe();
      for (const ws of clients) ws.close(1001, 'shutting down');
      await view.close();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
