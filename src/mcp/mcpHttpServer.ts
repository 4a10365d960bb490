import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { errorCode } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { originAllowed, parseAllowedOrigins, tokenMatches } from '../feed/feedAccess.ts';
import { createMcpServer } from './createMcpServer.ts';
import type { McpDeps } from './mcpDeps.ts';

/**
 * `sluice mcp --http`: the MCP Streamable HTTP transport at `/mcp`, stateless (a server and a
 * transport per POST, JSON responses), so nothing is held between requests and any number of
 * clients can call. Before the SDK sees a request:
 *
 * - Host must be a loopback name or an IP literal, or the configured bind host: a page on
 *   `evil.example` that re-resolves to 127.0.0.1 (DNS rebinding) sends its own name as Host;
 * - Origin, when a browser sends one, must be allowed (the feed's rules: SLUICE_MCP_ALLOWED_ORIGINS,
 *   else localhost);
 * - `Authorization: Bearer <SLUICE_MCP_TOKEN>`, compared in constant time; 401 otherwise.
 */

const log = createLogger('mcp');
const MAX_BODY_BYTES = 1024 * 1024;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1']);

export interface McpHttpServer {
  /** `http://host:port/mcp`. */
  url: string;
  close(): Promise<void>;
}

/** Whether a request's Host may reach the server: loopback names, IP literals, or the bind host itself. */
export function hostAllowed(hostHeader: string | undefined, bindHost: string): boolean {
  if (!hostHeader) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(hostHeader.trim().toLowerCase());
  const name = m ? m[1].replace(/^\[|\]$/g, '') : '';
  return LOOPBACK.has(name) || isIP(name) !== 0 || name === bindHost.toLowerCase();
}

function refuse(res: http.ServerResponse, status: number, message: string, headers: Record<string, string> = {}) {
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message }, id: null });
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body);
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new RangeError('request body too large');
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, deps: McpDeps, token: string, host: string) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname !== '/mcp') return refuse(res, 404, 'not found: the MCP endpoint is /mcp');
  if (!hostAllowed(req.headers.host, host)) return refuse(res, 403, 'Host not allowed');
  if (!originAllowed(req, parseAllowedOrigins(deps.cfg.mcpAllowedOrigins)))
    return refuse(res, 403, 'Origin not allowed (SLUICE_MCP_ALLOWED_ORIGINS)');
  const auth = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!tokenMatches(token, auth?.[1]))
    return refuse(res, 401, `${errorCode('MCP_UNAUTHORIZED')}: a bearer token is required`, {
      'www-authenticate': 'Bearer realm="sluice-mcp"',
    });
  // Stateless: no sessions to resume, so no server-sent event stream and nothing to delete.
  if (req.method !== 'POST') return refuse(res, 405, 'method not allowed: POST JSON-RPC to /mcp', { allow: 'POST' });
  let body: unknown;
  try {
    body = await readBody(req);
  } catch (err) {
    return refuse(res, 400, `bad request: ${(err as Error).message}`);
  }
  const server = createMcpServer(deps);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}

/**
 * Serves `/mcp` on host:port (port 0: a free one) until `close`.
 *
 * @example const srv = await startMcpHttpServer(deps, { host: '127.0.0.1', port: 8765, token });
 */
export async function startMcpHttpServer(
  deps: McpDeps,
  opts: { host: string; port: number; token: string },
): Promise<McpHttpServer> {
  const server = http.createServer((req, res) => {
    handle(req, res, deps, opts.token, opts.host).catch((err: unknown) => {
      log.error({ code: errorCode('INTERNAL'), err: (err as Error).message }, 'MCP request failed');
      if (!res.headersSent) refuse(res, 500, 'internal error');
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shown = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${shown}:${port}/mcp`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
