import { createHash, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Who may open the live feed, decided on the HTTP upgrade request, before any WebSocket exists.
 *
 * Origin: browsers always send it, so it is what stops another site's page from reading the feed
 * through a visitor's browser. A request without Origin is not a browser page and is let through
 * (the bearer token is what guards those). Allowed: any Origin in the list (`*` for any); the
 * page's own origin when the Host it was loaded from is a loopback name or an IP literal (a named
 * host must be listed, which keeps DNS-rebinding pages out); and, while no list is configured,
 * any localhost origin.
 */

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function hostnameOf(host: string): string {
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(host.trim().toLowerCase());
  return m ? m[1] : '';
}

/** Whether the request's Origin may open the feed (see the rules above). */
export function originAllowed(req: IncomingMessage, allowedOrigins: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (allowedOrigins.includes('*')) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.origin === 'null') return false;
  if (allowedOrigins.some((o) => o.replace(/\/+$/, '').toLowerCase() === url.origin.toLowerCase())) return true;
  const host = req.headers.host?.toLowerCase();
  if (host && url.host === host) {
    const name = hostnameOf(host);
    if (LOOPBACK_NAMES.has(name) || isIP(name.replace(/^\[|\]$/g, ''))) return true;
  }
  return allowedOrigins.length === 0 && LOOPBACK_NAMES.has(url.hostname);
}

/**
 * The token a request presents: `Authorization: Bearer <token>`, else `?token=` (browsers cannot
 * set headers on a WebSocket).
 */
export function presentedToken(req: IncomingMessage, url: URL): string | undefined {
  const auth = req.headers.authorization;
  const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  if (m) return m[1];
  return url.searchParams.get('token') ?? undefined;
}

/** Constant-time comparison (of digests, so the length of the token does not leak either). */
export function tokenMatches(expected: string, given: string | undefined): boolean {
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256')
    .update(given ?? '')
    .digest();
  return timingSafeEqual(a, b) && given !== undefined && expected.length > 0;
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
export function refuseUpgrade(
  socket: Duplex,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  const body = `${message}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/** `SLUICE_FEED_ALLOWED_ORIGINS` as a list. */
export function parseAllowedOrigins(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
