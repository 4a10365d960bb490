import client from 'prom-client';

/**
 * The runner's Prometheus metrics (one registry per process). Labels never carry record
 * contents or secrets: topology, topic, partition, reason and rule names only.
 */
export function createEngineMetrics(registry = new client.Registry()) {
  client.collectDefaultMetrics({ register: registry, prefix: 'sluice_process_' });
  const m = {
    registry,
    recordsIn: new client.Counter({
      name: 'sluice_records_in_total',
      help: 'Records consumed from source topics',
      labelNames: ['topology', 'topic'],
      registers: [registry],
    }),
    recordsOut: new client.Counter({
      name: 'sluice_records_out_total',
      help: 'Records made durable on output topics (DLQ excluded)',
      labelNames: ['topology', 'topic'],
      registers: [registry],
    }),
    recordsDlq: new client.Counter({
      name: 'sluice_records_dlq_total',
      help: 'Records sent to a DLQ topic, by source topic and reason',
      labelNames: ['topology', 'topic', 'reason'],
      registers: [registry],
    }),
    ruleFailures: new client.Counter({
      name: 'sluice_rule_failures_total',
      help: 'Data-quality rule failures',
      labelNames: ['topology', 'rule'],
      registers: [registry],
    }),
    processingLatency: new client.Histogram({
      name: 'sluice_processing_latency_seconds',
      help: 'From a record entering the pipeline to all its outputs being durable',
      labelNames: ['topology'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    consumerLag: new client.Gauge({
      name: 'sluice_consumer_lag',
      help: 'High watermark minus the next offset to process',
      labelNames: ['topology', 'topic', 'partition'],
      registers: [registry],
    }),
    commitLatency: new client.Histogram({
      name: 'sluice_commit_latency_seconds',
      help: 'Offset commit round-trip',
      labelNames: ['topology'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    pausedPartitions: new client.Gauge({
      name: 'sluice_paused_partitions',
      help: 'Partitions paused by backpressure',
      labelNames: ['topology'],
      registers: [registry],
    }),
    inFlight: new client.Gauge({
      name: 'sluice_in_flight_records',
      help: 'Records consumed but not yet durable',
      labelNames: ['topology'],
      registers: [registry],
    }),
    windowOpen: new client.Gauge({
      name: 'sluice_window_open',
      help: 'Open windows per state store',
      labelNames: ['topology', 'store'],
      registers: [registry],
    }),
    recordsLate: new client.Counter({
      name: 'sluice_records_late_total',
      help: 'Records that arrived after their window closed (sent to <topology>.late)',
      labelNames: ['topology', 'store'],
      registers: [registry],
    }),
    windowEmitDelay: new client.Histogram({
      name: 'sluice_window_emit_delay_seconds',
      help: 'From a window closing (end + grace) to its final result being emitted',
      labelNames: ['topology', 'store'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    consumerRestarts: new client.Counter({
      name: 'sluice_consumer_restarts_total',
      help: 'Consumer crashes followed by a restart',
      labelNames: ['topology'],
      registers: [registry],
    }),
  };
  // Connector statistics are read from the connectors when Prometheus scrapes.
  const connectors = new Map<string, () => ConnectorStats | undefined>();
  const gauge = (name: string, help: string, pick: (s: ConnectorStats) => number | null | undefined) =>
    new client.Gauge({
      name,
      help,
      labelNames: ['connector'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [connector, read] of connectors) {
          const st = read();
          const v = st ? pick(st) : undefined;
          if (v !== undefined && v !== null) this.set({ connector }, v);
        }
      },
    });
  gauge('sluice_connector_batches_total', 'Batches (objects, transactions) made durable', (s) => s.batches);
  gauge('sluice_connector_rows_total', 'Records written', (s) => s.rows);
  gauge(
    'sluice_connector_dead_lettered_total',
    'Records the sink could never take, sent to <source>.dlq with reason sink',
    (s) => s.deadLettered,
  );
  gauge('sluice_connector_bytes_total', 'Bytes written', (s) => s.bytes);
  gauge('sluice_connector_retries_total', 'Retried writes', (s) => s.retries);
  gauge('sluice_connector_failures_total', 'Batches given up (never committed)', (s) => s.failures);
  gauge('sluice_connector_flush_seconds_sum', 'Total time spent making batches durable', (s) =>
    typeof s.flushSeconds === 'number' ? s.flushSeconds : s.flushSeconds?.sum,
  );
  gauge('sluice_connector_last_flush_timestamp_seconds', 'When the last batch became durable', (s) =>
    s.lastFlushAt ? s.lastFlushAt / 1000 : undefined,
  );
  return {
    ...m,
    registerConnector(name: string, read: () => ConnectorStats | undefined) {
      connectors.set(name, read);
    },
  };
}

/** What connectors report (S3 and warehouse sinks, the extract source). */
export interface ConnectorStats {
  batches?: number;
  rows?: number;
  bytes?: number;
  retries?: number;
  failures?: number;
  deadLettered?: number;
  lastFlushAt?: number | null;
  flushSeconds?: number | { sum: number };
}

export type EngineMetrics = ReturnType<typeof createEngineMetrics>;
