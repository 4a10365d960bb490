import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { originAllowed, presentedToken, refuseUpgrade, tokenMatches } from './feedAccess.ts';
import type { FeedMetrics } from './feedMetrics.ts';

/** Who may open the feed, and how many at once. */
export interface UpgradeGate {
  /** URL path of the WebSocket endpoint. */
  path: string;
  allowedOrigins: string[];
  /** Empty: no token required. */
  token: string;
  maxConnections: number;
}

/** What the upgrade handler reads of the feed and hands accepted sockets to. */
export interface UpgradeDeps {
  wss: WebSocketServer;
  metrics: FeedMetrics;
  openConnections(): number;
  isClosing(): boolean;
  onConnection(ws: WebSocket): void;
}

interface Refusal {
  /** Label of sluice_feed_upgrades_rejected_total. */
  reason: string;
  status: number;
  message: string;
  headers?: Record<string, string>;
}

/**
 * The server's `upgrade` listener for the feed's path: checks the request before any WebSocket
 * exists (closing, Origin, token, connection cap, in that order) and hands an accepted socket on.
 * Requests for other paths are left to other listeners (404 when there is none).
 *
 * @example
 *   server.on('upgrade', createUpgradeHandler(server, gate, deps));
 */
export function createUpgradeHandler(server: http.Server, gate: UpgradeGate, deps: UpgradeDeps) {
  return (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://feed.invalid');
    } catch {
      refuseUpgrade(socket, 400, 'bad request');
      return;
    }
    if (url.pathname !== gate.path) {
      // Another handler may serve that path; answer only when nobody else can.
      if (server.listenerCount('upgrade') <= 1) refuseUpgrade(socket, 404, 'not found');
      return;
    }
    socket.on('error', () => socket.destroy());
    const refusal = refusalOf(req, url, gate, deps);
    if (refusal) {
      deps.metrics.upgradesRejected.inc({ reason: refusal.reason });
      refuseUpgrade(socket, refusal.status, refusal.message, refusal.headers);
      return;
    }
    deps.wss.handleUpgrade(req, socket, head, (ws) => deps.onConnection(ws));
  };
}

function refusalOf(req: http.IncomingMessage, url: URL, gate: UpgradeGate, deps: UpgradeDeps): Refusal | undefined {
  if (deps.isClosing())
    return { reason: 'closing', status: 503, message: 'the feed is shutting down', headers: { 'Retry-After': '5' } };
  if (!originAllowed(req, gate.allowedOrigins))
    return { reason: 'origin', status: 403, message: 'origin not allowed (SLUICE_FEED_ALLOWED_ORIGINS)' };
  if (gate.token && !tokenMatches(gate.token, presentedToken(req, url)))
    return {
      reason: 'token',
      status: 401,
      message: 'a valid bearer token is required',
      headers: { 'WWW-Authenticate': 'Bearer realm="sluice-feed"' },
    };
  if (deps.openConnections() >= gate.maxConnections)
    return {
      reason: 'capacity',
      status: 503,
      message: 'too many live feed connections',
      headers: { 'Retry-After': '5' },
    };
  return undefined;
}
