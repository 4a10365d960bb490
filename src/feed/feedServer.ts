import client from 'prom-client';
import type { Config } from '../config/config.ts';
import { json, startHttpServer, type Route } from '../http/httpServer.ts';
import { catalogRoutes } from './catalogRoutes.ts';
import { dashboardRoutes, type DashboardOptions } from './dashboard.ts';
import { attachMetricsFeed, type MetricsFeed, type MetricsFeedOptions } from './metricsFeed.ts';

/** A running feed server (see `startFeedServer`). */
export interface FeedServer {
  url: string;
  feed: MetricsFeed;
  close(): Promise<void>;
}

/**
 * The live feed and the dashboard on their own HTTP server, without topologies (`sluice feed`):
 * `/` dashboard, `/catalog` the catalog page (data at `/api/catalog`), `/ws` feed, `/metrics` (the
 * feed's own Prometheus metrics), `/healthz`, `/readyz`
 * (ready once the feed has caught up with the metric topics).
 *
 * @example
 *   const srv = await startFeedServer(cfg, { port: 0 });
 *   console.log(`${srv.url}/`);
 *   await srv.close();
 */
export async function startFeedServer(
  cfg: Config,
  opts: { host?: string; port?: number; feed?: MetricsFeedOptions; dashboard?: DashboardOptions } = {},
): Promise<FeedServer> {
  const registry = opts.feed?.registry ?? new client.Registry();
  if (!opts.feed?.registry) client.collectDefaultMetrics({ register: registry, prefix: 'sluice_' });
  let feed: MetricsFeed | undefined;
  const routes: Record<string, Route> = {
    ...dashboardRoutes(opts.dashboard),
    ...catalogRoutes(cfg, { token: opts.feed?.token }),
    '/healthz': (_req, res) => json(res, 200, { status: 'ok' }),
    '/readyz': (_req, res) => {
      const ready = feed?.log.isReady() ?? false;
      json(res, ready ? 200 : 503, { ready, feed: feed?.log.stats() });
    },
    '/metrics': async (_req, res) => {
      res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
    },
  };
  const http = await startHttpServer(opts.host ?? cfg.httpHost, opts.port ?? cfg.httpPort, routes);
  feed = attachMetricsFeed(http.server, cfg, { ...opts.feed, registry });
  return {
    url: http.url,
    feed,
    async close() {
      await feed!.close();
      await http.close();
    },
  };
}
