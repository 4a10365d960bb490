import client from 'prom-client';

/**
 * The CDC source's Prometheus metrics, on the runner's registry (its /metrics) or a private one.
 * Labelled by slot only: never row contents.
 */
export function createCdcMetrics(registry: client.Registry, slot: string) {
  const registers = [registry];
  const gauge = (name: string, help: string) =>
    (registry.getSingleMetric(name) as client.Gauge<'slot'> | undefined) ??
    new client.Gauge({ name, help, labelNames: ['slot'], registers });
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
    (registry.getSingleMetric(name) as client.Counter<L> | undefined) ??
    new client.Counter<L>({ name, help, labelNames, registers });
  const events = counter('sluice_cdc_events_total', 'CDC records acknowledged by Kafka, by table and op', [
    'slot',
    'table',
    'op',
  ]);
  return {
    registry,
    lagBytes: gauge(
      'sluice_cdc_lag_bytes',
      "WAL the CDC slot holds: the server's current WAL position minus the slot's confirmed flush LSN",
    ).labels({ slot }),
    lagSeconds: gauge(
      'sluice_cdc_lag_seconds',
      'From the commit of the last acknowledged transaction to its acknowledgement (0 when caught up and idle)',
    ).labels({ slot }),
    confirmedLsn: gauge(
      'sluice_cdc_confirmed_lsn',
      'Confirmed flush LSN the CDC source last sent (as a number)',
    ).labels({
      slot,
    }),
    transactions: counter('sluice_cdc_transactions_total', 'Transactions whose changes Kafka acknowledged', [
      'slot',
    ]).labels({ slot }),
    event(table: string, op: string, n = 1) {
      events.inc({ slot, table, op }, n);
    },
  };
}

export type CdcMetrics = ReturnType<typeof createCdcMetrics>;
