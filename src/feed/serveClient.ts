import type { WebSocket } from 'ws';
import { errorCode } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { subscribeClient, type SubscriptionContext } from './clientSubscription.ts';
import type { FeedClient } from './feedConnections.ts';
import { parseSubscribeRequest } from './subscribeRequest.ts';

const log = createLogger('feed');

/**
 * Serves an accepted WebSocket: its one subscribe request, its pongs, its close. The connection
 * is counted from here until it closes.
 *
 * @example
 *   wss.handleUpgrade(req, socket, head, (ws) => serveClient(ws, ctx));
 */
export function serveClient(ws: WebSocket, ctx: SubscriptionContext): void {
  const c = ctx.connections.add(ws);
  ws.on('message', (data, isBinary) => onMessage(ctx, c, data, isBinary));
  ws.on('pong', () => {
    c.alive = true;
  });
  ws.on('close', () => ctx.connections.detach(c));
  ws.on('error', (err) => {
    log.debug({ err: err.message }, 'live feed client error');
    ctx.connections.detach(c);
  });
}

function onMessage(
  ctx: SubscriptionContext,
  c: FeedClient,
  data: Buffer | ArrayBuffer | Buffer[],
  isBinary: boolean,
): void {
  const { connections } = ctx;
  if (c.closed) return;
  if (isBinary) {
    connections.fail(c, 'INVALID_REQUEST', 'send JSON text frames');
    return;
  }
  if (c.metrics) {
    connections.fail(
      c,
      'ALREADY_SUBSCRIBED',
      'one subscribe per connection; reconnect (with your cursor) to change it',
    );
    return;
  }
  const req = parseSubscribeRequest(data);
  if (!req.ok) {
    connections.fail(c, req.code, req.message);
    return;
  }
  c.metrics = new Set(); // claims the one subscribe while the log may still be catching up
  subscribeClient(ctx, c, req.metrics, req.cursor).catch((err) => {
    log.error({ code: errorCode('INTERNAL'), err: String((err as Error)?.stack ?? err) }, 'live feed subscribe failed');
    connections.fail(c, 'INTERNAL', 'subscribe failed', 1011);
  });
}
