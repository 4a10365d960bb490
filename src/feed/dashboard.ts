import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type http from 'node:http';
import type { Route } from '../http/httpServer.ts';

/** Where the dashboard page finds the feed and the process metrics. */
export interface DashboardOptions {
  /** Where the page finds the feed (default `/ws`, same origin). */
  feedPath?: string;
  /** Where the page polls Prometheus metrics (default `/metrics`). */
  metricsPath?: string;
  /** Poll interval of `metricsPath` in ms (default 5000). */
  metricsPollMs?: number;
}

const here = (file: string) => new URL(file, import.meta.url);
const require = createRequire(import.meta.url);

export interface Asset {
  body: Buffer;
  type: string;
}

export function asset(file: string | URL, type: string): Asset {
  return { body: readFileSync(file), type };
}

const FAVICON = [
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">',
  '<rect width="32" height="32" rx="6" fill="#0f1419"/>',
  '<path d="M5 11c4-4 7 4 11 0s7 4 11 0M5 17c4-4 7 4 11 0s7 4 11 0M5 23c4-4 7 4 11 0s7 4 11 0"',
  ' stroke="#4cc2ff" stroke-width="2.4" fill="none" stroke-linecap="round"/>',
  '</svg>',
].join('');

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export function serve(a: Asset, extra: Record<string, string> = {}): Route {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    res.writeHead(200, {
      'content-type': a.type,
      'content-length': String(a.body.length),
      'cache-control': 'no-cache',
      ...SECURITY_HEADERS,
      ...extra,
    });
    res.end(req.method === 'HEAD' ? undefined : a.body);
  };
}

const CLIENT_DIR = here('./dashboardClient/');

/** Every browser module, at `/assets/dashboard/<file>.js`: the page's modules import one another by those paths. */
function clientModuleRoutes(): Record<string, Route> {
  const files = readdirSync(CLIENT_DIR).filter((f) => f.endsWith('.js'));
  return Object.fromEntries(
    files.map((f) => [
      `/assets/dashboard/${f}`,
      serve(asset(new URL(f, CLIENT_DIR), 'text/javascript; charset=utf-8')),
    ]),
  );
}

/**
 * The dashboard page at `/`: plain HTML, the browser modules of `dashboardClient/` (entry
 * `main.js`) and uPlot (served from node_modules by the same server, no build step, no CDN). The
 * page subscribes to the live feed at `/ws` and polls the process's `/metrics` for late records
 * and consumer lag.
 *
 * Page query parameters: `token` (passed on to /ws when the feed requires one) and `metricPrefix`
 * (subscribe to `<prefix>revenue_per_minute`, ... instead of the reference metric names).
 *
 * @example
 *   await startHttpServer(host, port, { ...dashboardRoutes(), '/metrics': promRoute });
 */
export function dashboardRoutes(opts: DashboardOptions = {}): Record<string, Route> {
  const settings = JSON.stringify({
    feedPath: opts.feedPath ?? '/ws',
    metricsPath: opts.metricsPath ?? '/metrics',
    metricsPollMs: opts.metricsPollMs ?? 5_000,
  });
  // Settings travel in a data attribute, so the page needs no inline script under its CSP.
  const html = readFileSync(here('./dashboard.html'), 'utf8').replace(
    '__SLUICE_SETTINGS__',
    settings.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;'),
  );
  const page: Asset = { body: Buffer.from(html), type: 'text/html; charset=utf-8' };
  const csp = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self' ws: wss:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return {
    '/': serve(page, { 'content-security-policy': csp }),
    ...clientModuleRoutes(),
    '/assets/dashboard.css': serve(asset(here('./dashboard.css'), 'text/css; charset=utf-8')),
    '/assets/favicon.svg': serve({ body: Buffer.from(FAVICON), type: 'image/svg+xml' }),
    '/favicon.ico': serve({ body: Buffer.from(FAVICON), type: 'image/svg+xml' }),
    '/assets/uplot.js': serve(asset(require.resolve('uplot/dist/uPlot.iife.min.js'), 'text/javascript; charset=utf-8')),
    '/assets/uplot.css': serve(asset(require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8')),
  };
}
