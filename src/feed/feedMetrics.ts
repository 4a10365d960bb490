import client from 'prom-client';

/**
 * The live feed's Prometheus metrics, on the engine's registry when the feed runs inside the
 * runner. Registering is idempotent per registry, so a feed can be closed and attached again.
 */
export function createFeedMetrics(registry: client.Registry = new client.Registry()) {
  function once<T extends client.Metric>(name: string, make: () => T): T {
    return (registry.getSingleMetric(name) as T | undefined) ?? make();
  }
  return {
    registry,
    connections: once(
      'sluice_feed_connections',
      () =>
        new client.Gauge({
          name: 'sluice_feed_connections',
          help: 'Open live feed WebSocket connections',
          registers: [registry],
        }),
    ),
    messagesSent: once(
      'sluice_feed_messages_sent_total',
      () =>
        new client.Counter({
          name: 'sluice_feed_messages_sent_total',
          help: 'Messages sent to live feed clients (snapshot, replay and live updates)',
          registers: [registry],
        }),
    ),
    clientsDropped: once(
      'sluice_feed_clients_dropped_total',
      () =>
        new client.Counter({
          name: 'sluice_feed_clients_dropped_total',
          help:
            'Live feed clients disconnected by the server, by reason (slow: send buffer over the limit; ' +
            'behind: too many updates queued while resuming; replay_failed)',
          labelNames: ['reason'],
          registers: [registry],
        }),
    ),
    upgradesRejected: once(
      'sluice_feed_upgrades_rejected_total',
      () =>
        new client.Counter({
          name: 'sluice_feed_upgrades_rejected_total',
          help: 'WebSocket upgrades refused before the handshake, by reason (origin, token, capacity, closing)',
          labelNames: ['reason'],
          registers: [registry],
        }),
    ),
    resumes: once(
      'sluice_feed_resumes_total',
      () =>
        new client.Counter({
          name: 'sluice_feed_resumes_total',
          help: 'Subscriptions resumed from a cursor, by where the missed updates came from (memory, kafka, none)',
          labelNames: ['source'],
          registers: [registry],
        }),
    ),
  };
}

/** The live feed's Prometheus metrics (see `createFeedMetrics`). */
export type FeedMetrics = ReturnType<typeof createFeedMetrics>;
