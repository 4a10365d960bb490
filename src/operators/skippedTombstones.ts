import client from 'prom-client';

/**
 * `sluice_tombstones_skipped_total{topology, topic}`: keyed null values that `decode` let pass
 * without a DLQ record (a compaction marker, e.g. after a CDC delete, not a malformed record).
 * With it the intake balances: records in = decoded + DLQ + tombstones skipped.
 *
 * @example skippedTombstones(metrics.registry).inc({ topology: 'orders', topic: 'oltp.orders' })
 */
export function skippedTombstones(registry: client.Registry): client.Counter<'topology' | 'topic'> {
  const name = 'sluice_tombstones_skipped_total';
  return (
    (registry.getSingleMetric(name) as client.Counter<'topology' | 'topic'> | undefined) ??
    new client.Counter({
      name,
      help: 'Tombstones (keyed null values) on source topics, skipped by decode without a DLQ record',
      labelNames: ['topology', 'topic'],
      registers: [registry],
    })
  );
}
