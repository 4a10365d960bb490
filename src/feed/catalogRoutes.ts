import type http from 'node:http';
import type { CatalogEntry } from '../catalog/catalogEntry.ts';
import type { Config } from '../config/config.ts';
import { json, type Route } from '../http/httpServer.ts';
import { asset, serve } from './dashboard.ts';
import { presentedToken, tokenMatches } from './feedAccess.ts';
import { feedTokenOf } from './feedToken.ts';

const here = (file: string) => new URL(file, import.meta.url);

/** How long one live build of the catalog answers the page (it asks the registry, Kafka and Postgres). */
const LIVE_CACHE_MS = 15_000;

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/**
 * The dashboard's catalog page (issue 14, item 6): `/catalog` (the page; its module
 * `/assets/dashboard/catalogPage.js`) and `/api/catalog`, what `sluice catalog --json` prints —
 * every topic and warehouse table with owner, schema versions, fields with PII marks, lineage,
 * freshness and quality checks. The API asks for the feed's token like the feed does
 * (`Authorization: Bearer` or `?token=`; none when the feed is open): the catalog names every
 * field of the shop's data. A live build is shared for 15 s, so a page left open costs the
 * services little.
 *
 * @example await startHttpServer(host, port, { ...dashboardRoutes(), ...catalogRoutes(cfg) });
 */
export function catalogRoutes(cfg: Config, opts: { token?: string } = {}): Record<string, Route> {
  const token = opts.token ?? feedTokenOf(cfg);
  let cached: { at: number; entries: Promise<CatalogEntry[]> } | undefined;
  const live = () => {
    if (!cached || Date.now() - cached.at > LIVE_CACHE_MS) {
      const entries = buildLiveCatalog(cfg);
      cached = { at: Date.now(), entries };
      // A failed build is not kept: the next request tries again.
      entries.catch(() => {
        cached = undefined;
      });
    }
    return cached.entries;
  };
  return {
    '/catalog': serve(asset(here('./catalog.html'), 'text/html; charset=utf-8'), { 'content-security-policy': CSP }),
    '/api/catalog': async (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (req.method !== 'GET') return void res.writeHead(405, { allow: 'GET' }).end();
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (token && !tokenMatches(token, presentedToken(req, url))) {
        res.setHeader('www-authenticate', 'Bearer realm="sluice-feed"');
        return json(res, 401, { error: 'a valid bearer token is required (the feed token: ?token= or Authorization)' });
      }
      json(res, 200, { at: new Date().toISOString(), entries: await live() });
    },
  };
}

/**
 * Loaded on the first request, not with the runner: the catalog imports every topology (and so
 * the S3 and Postgres clients), which a runner of one topology would otherwise hold in memory.
 */
async function buildLiveCatalog(cfg: Config): Promise<CatalogEntry[]> {
  const [{ declaredCatalog }, { addLiveFacts }] = await Promise.all([
    import('../catalog/declaredCatalog.ts'),
    import('../catalog/catalogLive.ts'),
  ]);
  return addLiveFacts(cfg, declaredCatalog(cfg), cfg.freshnessSlas);
}
