import { warehouseSink } from '../connectors/postgres/warehouse/sink.ts';
import { WAREHOUSE_ENTITIES, medallionTables, type WarehouseSinkOverrides } from '../src/shop/warehouseModel.ts';
import { defineTopology } from '../src/topology/defineTopology.ts';
import type { TopologyDefinition } from '../src/topology/types.ts';

export interface WarehouseTopologyOptions {
  /** Prefix of the Postgres schemas (`it_x` → `it_x_bronze`, `it_x_silver`, `it_x_gold`); none in production. */
  schemaPrefix?: string;
  /** Sink settings applied to every table (batch size, linger, connection, test hooks). */
  sink?: WarehouseSinkOverrides;
}

/**
 * silver.* → the warehouse medallion: every silver record is appended to `bronze.<entity>`,
 * upserted into `silver.<entity>`, and shaped into its gold table (`fact_orders`,
 * `fact_order_items`, `dim_customers` as SCD2, `dim_products`). One warehouse sink per table,
 * each committing its rows and its consumed offsets in one transaction; an input record is
 * committed in Kafka once all its tables have it.
 *
 * @example
 *   const def = warehouseTopology({ schemaPrefix: 'it_abc' }); // isolated schemas for a test
 */
export function warehouseTopology(opts: WarehouseTopologyOptions = {}): TopologyDefinition {
  const tables = medallionTables(opts);
  return defineTopology({
    name: 'warehouse',
    owner: { team: 'analytics-engineering' },
    description:
      'Silver topics into the Postgres warehouse: bronze (append), silver (current state), ' +
      'gold (facts, SCD2 customers, products, date)',
    // An explicit DLQ: records the warehouse cannot decode are its own errors, not silver's.
    sources: WAREHOUSE_ENTITIES.map((e) => ({ topic: e.topic, dlq: `${e.topic}.warehouse-errors` })),
    outputs: tables.map((t) => ({ topic: t.output, schema: t.source, sink: warehouseSink(t.sink) })),
    pipeline: ({ sources, ops }) =>
      ops.merge(
        ...WAREHOUSE_ENTITIES.map((e) => {
          // Decoded and masked (SLUICE_PII_WAREHOUSE) once, fanned out to the entity's tables.
          const decoded = sources[e.topic].pipe(ops.decode(), ops.maskPii('warehouse'), ops.share());
          return ops.merge(
            ...tables
              .filter((t) => t.source === e.topic)
              .map((t) =>
                t.transform
                  ? decoded.pipe(ops.mapValue(t.transform.fn, t.transform.name), ops.toTopic(t.output))
                  : decoded.pipe(ops.toTopic(t.output)),
              ),
          );
        }),
      ),
  });
}

export default warehouseTopology({});
