import { map, merge, share } from 'rxjs';
import type { WarehouseSinkOptions } from '../../connectors/postgres/warehouse/config.ts';
import { warehouseSink } from '../../connectors/postgres/warehouse/sink.ts';
import type { S3SinkConfigInput } from '../../connectors/s3/config.ts';
import { s3Sink } from '../../connectors/s3/sink.ts';
import type { Customer } from '../../src/domain/types.generated.ts';
import { defineTopology } from '../../src/topology/defineTopology.ts';
import type { Envelope, Output, TopologyDefinition } from '../../src/topology/types.ts';

/**
 * Topologies for the sink dead-letter tests (test/integration/connectors/sinkDeadLetter.test.ts
 * and its SIGKILL child). Apply `prefixTopology` to the warehouse one; the lake one is built on
 * prefixed topics already (its hand-made outputs name their sink output themselves).
 */

/** Sink names of the warehouse dead-letter topology: `<schema>.orders_log` (append) and `<schema>.orders` (upsert). */
export function deadLetterSinkNames(schema: string): { log: string; orders: string } {
  return { log: `${schema}.orders_log`, orders: `${schema}.orders` };
}

/**
 * silver.orders → two warehouse tables in one transaction group: `<schema>.orders_log` (append,
 * every record) and `<schema>.orders` (upsert by order_id). A DBA narrowed `orders.total_amount`
 * to numeric(8,2) (setupSql): an amount of a million or more is valid Avro and valid in the
 * staging table (numeric(12,2)), and only the merge into `orders` refuses it (22003) — an error
 * the server alone can see, which the sink must isolate by splitting its batch.
 */
export function warehouseDeadLetterTopology(opts: {
  schema: string;
  sink?: Partial<WarehouseSinkOptions>;
}): TopologyDefinition {
  const names = deadLetterSinkNames(opts.schema);
  const common = {
    avroSchema: 'silver.orders',
    schema: opts.schema,
    transactionGroup: 'orders',
    batchRecords: 500,
    lingerMs: 200,
    ...opts.sink,
  } as const;
  return defineTopology({
    name: 'sink-dead-letter',
    sources: [{ topic: 'silver.orders' }],
    outputs: [
      {
        topic: 'wh.orders_log',
        schema: 'silver.orders',
        sink: warehouseSink({ ...common, name: names.log, table: 'orders_log', mode: 'append' }),
      },
      {
        topic: 'wh.orders',
        schema: 'silver.orders',
        sink: warehouseSink({
          ...common,
          name: names.orders,
          table: 'orders',
          mode: 'upsert',
          keyColumns: ['order_id'],
          orderingColumn: 'updated_at',
          setupSql: [`alter table "${opts.schema}"."orders" alter column total_amount type numeric(8,2)`],
        }),
      },
    ],
    pipeline: ({ sources, ops }) => {
      const decoded = sources['silver.orders'].pipe(ops.decode(), share());
      return merge(decoded.pipe(ops.toTopic('wh.orders_log')), decoded.pipe(ops.toTopic('wh.orders')));
    },
  });
}

/**
 * `<prefix>.silver.customers` → the S3 staging zone, through an operator that builds its outputs
 * itself (no `toTopic` schema check) after a transform that turns an empty country into null:
 * the writer schema (country is a non-null string) refuses those records, so the sink has to.
 */
export function lakeDeadLetterTopology(prefix: string, sink: S3SinkConfigInput = {}): TopologyDefinition {
  const source = `${prefix}.silver.customers`;
  const output = `${prefix}.lake.staging.customers`;
  return defineTopology({
    name: 'sink-dead-letter-lake',
    sources: [{ topic: source, schema: 'silver.customers' }],
    outputs: [
      {
        topic: output,
        schema: 'silver.customers',
        sink: s3Sink({ rollRecords: 100, idleCloseMs: 500, ...sink, zone: 'staging', name: 's3-staging-dl' }),
      },
    ],
    pipeline: ({ sources, ops }) =>
      sources[source].pipe(
        ops.decode<Customer>(),
        ops.mapValue((c: Customer) => ({ ...c, country: c.country === '' ? null : c.country })),
        map(
          (env: Envelope<unknown>): Output => ({
            topic: output,
            key: env.key,
            value: env.value,
            schemaSubjectTopic: 'silver.customers',
            acks: [env.ack],
            timestamp: env.source.timestamp,
            source: env.source,
          }),
        ),
      ),
  });
}
