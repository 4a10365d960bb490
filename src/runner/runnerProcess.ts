import type { Config } from '../config/config.ts';
import { createLogger } from '../core/log.ts';
import { SluiceError } from '../core/errors.ts';
import { createEngineMetrics } from '../engine/engineMetrics.ts';
import type { Registry as MetricsRegistry } from 'prom-client';
import { TopologyRunner, type RunnerOptions } from './topologyRunner.ts';
import { createKafkaClient } from '../kafka/createKafkaClient.ts';
import { createAvroSerde } from '../serde/avroSerde.ts';
import { catalogRoutes } from '../feed/catalogRoutes.ts';
import { dashboardRoutes } from '../feed/dashboard.ts';
import { attachMetricsFeed, type MetricsFeed, type MetricsFeedOptions } from '../feed/metricsFeed.ts';
import { createRegistryClient } from '../serde/schemaRegistry.ts';
import type { TopologyDefinition } from '../topology/types.ts';
import { json, startHttpServer, type Route } from '../http/httpServer.ts';
import { type QualityPublisher, startQualityPublisher } from '../quality/qualityPublisher.ts';

const log = createLogger('runner');

/**
 * `sluice run`: every selected topology in one process, the HTTP endpoints, and the shutdown
 * protocol (SIGTERM/SIGINT: stop fetching, drain, flush, commit, leave the group, exit 0 within
 * the deadline). A fatal engine error stops everything and exits non-zero, so a supervisor
 * restarts the process instead of it looking healthy while consuming nothing.
 */
export interface RunningProcess {
  runners: TopologyRunner[];
  url: string;
  /** The Prometheus registry `/metrics` serves: more gauges can join it (freshness). */
  registry: MetricsRegistry;
  stop(): Promise<void>;
  /** Resolves with the exit code when the process should end. */
  done: Promise<number>;
}

export interface RunnerProcessOptions extends RunnerOptions {
  extraRoutes?: Record<string, Route>;
  shutdownDeadlineMs?: number;
  /** The live feed on `/ws` and the dashboard on `/` (default on); false turns both off. */
  feed?: boolean | MetricsFeedOptions;
}

export async function startRunnerProcess(
  cfg: Config,
  topologies: TopologyDefinition[],
  opts: RunnerProcessOptions = {},
): Promise<RunningProcess> {
  if (!topologies.length) throw new SluiceError('CLI_USAGE', 'no topology selected');
  const kafka = createKafkaClient(cfg, `${cfg.kafkaClientId}-runner`);
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const metrics = createEngineMetrics();
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((r) => {
    finish = r;
  });
  let stopping: Promise<void> | undefined;
  let quality: QualityPublisher | undefined;

  const runners = topologies.map(
    (def) =>
      new TopologyRunner({
        cfg,
        def,
        kafka,
        registry,
        serde,
        metrics,
        options: opts,
        onFatal: (err) => {
          log.fatal(
            { topology: def.name, err: (err as SluiceError).toJSON?.() ?? String(err) },
            'fatal engine error; stopping',
          );
          void stop().then(() => finish(1));
        },
      }),
  );

  const feedOptions = opts.feed === false ? undefined : opts.feed === true || opts.feed === undefined ? {} : opts.feed;
  const routes: Record<string, Route> = {
    ...(feedOptions ? { ...dashboardRoutes(), ...catalogRoutes(cfg, { token: feedOptions.token }) } : {}),
    '/healthz': (_req, res) => json(res, 200, { status: 'ok' }),
    '/readyz': (_req, res) => {
      const statuses = runners.map((r) => r.status());
      json(res, statuses.every((s) => s.ready) ? 200 : 503, {
        ready: statuses.every((s) => s.ready),
        topologies: statuses,
      });
    },
    '/metrics': async (_req, res) => {
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(await metrics.registry.metrics());
    },
    ...opts.extraRoutes,
  };
  const http = await startHttpServer(cfg.httpHost, cfg.httpPort, routes);
  // The feed reads every metrics.* topic, including those this process writes; it shares the
  // runner's Kafka client, serde and Prometheus registry.
  const feed: MetricsFeed | undefined = feedOptions
    ? attachMetricsFeed(http.server, cfg, { kafka, serde, registry: metrics.registry, ...feedOptions })
    : undefined;

  async function stop(): Promise<void> {
    stopping ??= (async () => {
      const deadline = opts.shutdownDeadlineMs ?? 25_000;
      await Promise.all([
        ...runners.map((r) =>
          r.stop(deadline).catch((err) => log.error({ topology: r.def.name, err: String(err) }, 'stop failed')),
        ),
        feed?.close().catch((err) => log.error({ err: String(err) }, 'live feed close failed')),
      ]);
      await quality?.stop(); // after the topologies: their last counts are published, final
      await http.close();
    })();
    return stopping;
  }

  try {
    for (const r of runners) await r.start();
    // Quality scores: this process's per-minute counts to SLUICE_QUALITY_TOPIC, and its gauges.
    quality = startQualityPublisher(cfg, { kafka, counters: metrics.quality, registry: metrics.registry });
  } catch (err) {
    // Leave nothing behind (HTTP server, consumers, the feed) when start-up fails.
    await stop().catch(() => {});
    throw err;
  }
  log.info({ url: http.url, topologies: topologies.map((t) => t.name) }, 'runner ready');
  return { runners, url: http.url, registry: metrics.registry, stop, done };
}
