import client from 'prom-client';
import { QualityCounters } from '../quality/qualityCounts.ts';

/**
 * The runner's Prometheus metrics (one registry per process). Labels never carry record
 * contents or secrets: topology, topic, partition, reason and rule names only.
 */
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const COMMIT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const EMIT_DELAY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function createEngineMetrics(registry = new client.Registry()) {
  client.collectDefaultMetrics({ register: registry, prefix: 'sluice_' });
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
    new client.Counter<L>({ name, help, labelNames, registers });
  const gauge = <L extends string>(name: string, help: string, labelNames: L[]) =>
    new client.Gauge<L>({ name, help, labelNames, registers });
  const histogram = <L extends string>(name: string, help: string, labelNames: L[], buckets: number[]) =>
    new client.Histogram<L>({ name, help, labelNames, buckets, registers });
  const m = {
    registry,
    recordsIn: counter('sluice_records_in_total', 'Records consumed from source topics', ['topology', 'topic']),
    recordsOut: counter('sluice_records_out_total', 'Records made durable on output topics (DLQ excluded)', [
      'topology',
      'topic',
    ]),
    recordsDlq: counter('sluice_records_dlq_total', 'Records sent to a DLQ topic, by source topic and reason', [
      'topology',
      'topic',
      'reason',
    ]),
    ruleFailures: counter('sluice_rule_failures_total', 'Data-quality rule failures', ['topology', 'rule']),
    processingLatency: histogram(
      'sluice_processing_latency_seconds',
      'From a record entering the pipeline to all its outputs being durable',
      ['topology'],
      LATENCY_BUCKETS,
    ),
    consumerLag: gauge('sluice_consumer_lag_records', 'High watermark minus the next offset to process', [
      'topology',
      'topic',
      'partition',
    ]),
    commitLatency: histogram('sluice_commit_latency_seconds', 'Offset commit round-trip', ['topology'], COMMIT_BUCKETS),
    pausedPartitions: gauge('sluice_paused_partitions', 'Partitions paused by backpressure', ['topology']),
    inFlight: gauge('sluice_in_flight_records', 'Records consumed but not yet durable', ['topology']),
    windowOpen: gauge('sluice_windows_open', 'Open windows per state store', ['topology', 'store']),
    recordsLate: counter(
      'sluice_records_late_total',
      'Records that arrived after their window closed (sent to <topology>.late)',
      ['topology', 'store'],
    ),
    windowEmitDelay: histogram(
      'sluice_window_emit_delay_seconds',
      'From a window closing (end + grace) to its final result being emitted',
      ['topology', 'store'],
      EMIT_DELAY_BUCKETS,
    ),
    consumerRestarts: counter('sluice_consumer_restarts_total', 'Consumer crashes followed by a restart', ['topology']),
    /** Pass/fail counts of decode and validate per topology (quality scores: src/quality/qualityPublisher.ts). */
    quality: new QualityCounters(),
  };
  const connectors = connectorGauges(registry);
  return {
    ...m,
    registerConnector(name: string, read: () => ConnectorStats | undefined) {
      connectors.set(name, read);
    },
  };
}

/** Connector statistics, read from the connectors when Prometheus scrapes; connectors register here. */
function connectorGauges(registry: client.Registry): Map<string, () => ConnectorStats | undefined> {
  const connectors = new Map<string, () => ConnectorStats | undefined>();
  type Pick = (s: ConnectorStats) => number | null | undefined;
  const each = (pick: Pick, set: (connector: string, v: number) => void) => {
    for (const [connector, read] of connectors) {
      const st = read();
      const v = st ? pick(st) : undefined;
      if (v !== undefined && v !== null) set(connector, v);
    }
  };
  // The connectors keep running totals: exported as counters (typed so, `rate()` treats resets right).
  const counter = (name: string, help: string, pick: Pick) => {
    const metric: client.Counter<'connector'> = new client.Counter({
      ...{ name, help, labelNames: ['connector'], registers: [registry] },
      collect: () => refill(metric, pick, (connector, v) => metric.inc({ connector }, v)),
    });
  };
  const gauge = (name: string, help: string, pick: Pick) => {
    const metric: client.Gauge<'connector'> = new client.Gauge({
      ...{ name, help, labelNames: ['connector'], registers: [registry] },
      collect: () => refill(metric, pick, (connector, v) => metric.set({ connector }, v)),
    });
  };
  const refill = (metric: { reset(): void }, pick: Pick, put: (connector: string, v: number) => void) => {
    metric.reset();
    each(pick, put);
  };
  counter('sluice_connector_batches_total', 'Batches (objects, transactions) made durable', (s) => s.batches);
  counter('sluice_connector_rows_total', 'Records written', (s) => s.rows);
  counter(
    'sluice_connector_dead_lettered_total',
    'Records the sink could never take, sent to <source>.dlq with reason sink',
    (s) => s.deadLettered,
  );
  counter('sluice_connector_bytes_total', 'Bytes written', (s) => s.bytes);
  counter('sluice_connector_retries_total', 'Retried writes', (s) => s.retries);
  counter('sluice_connector_failures_total', 'Batches given up (never committed)', (s) => s.failures);
  counter('sluice_connector_flush_seconds_total', 'Time spent making batches durable', (s) =>
    typeof s.flushSeconds === 'number' ? s.flushSeconds : s.flushSeconds?.sum,
  );
  gauge('sluice_connector_last_flush_timestamp_seconds', 'When the last batch became durable', (s) =>
    s.lastFlushAt ? s.lastFlushAt / 1000 : undefined,
  );
  return connectors;
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
