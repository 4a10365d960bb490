import { SluiceError } from '../../../src/core/errors.ts';
import type { Output, SinkConnector, SinkContext, SinkFactory } from '../../../src/topology/types.ts';
import type { TablePlan } from './avroToPg.ts';
import { parseWarehouseSinkConfig, type WarehouseSinkConfig, type WarehouseSinkOptions } from './config.ts';
import { createMember, type Member, type WarehouseSinkStats } from './member.ts';
import { readStoredOffsets } from './storedOffsets.ts';
import type { WarehouseWriter } from './warehouseWriter.ts';
import { writerFor } from './writerFor.ts';

/**
 * Postgres warehouse sink: exactly-once effect without XA.
 *
 * Each flush is one transaction: COPY the batch into a session temp table (text format, large
 * chunks), merge it into the target (append / upsert / SCD type 2), and advance the consumed
 * offsets in `sluice.sluice_warehouse_offsets` — all or nothing. The runner seeks each assigned
 * partition to `storedOffsets()`, and every flush also drops records below the stored offset
 * (they were committed before a crash or by a previous owner of the partition), so a crash
 * between COPY and COMMIT neither loses nor doubles a row. Acks are released only after COMMIT.
 *
 * Sinks with the same `transactionGroup` in one runner (the medallion's tables) share the
 * transaction: all their tables and offsets commit together, so no table of the group is ever
 * ahead of another — the runner seeks each partition once, whichever sink it asks.
 *
 * Tables are created from the Avro schema and evolved additively (new field → new nullable
 * column; a field that became optional drops NOT NULL). Field docs become column comments.
 *
 * The parts: `avroToPg` (table model), `ddl`, `stage` and `merge` (SQL), `copyRows` (COPY
 * text), `flushTransaction` and `storedOffsets` (one flush), `isolate` (rows a table refuses),
 * `warehouseWriter` and `flushScheduler` (batching), `writerFor` (transaction groups).
 */

/** A warehouse sink connector: the runner's `SinkConnector` plus its stats and resolved table. */
export interface WarehouseSinkConnector extends SinkConnector {
  readonly stats: WarehouseSinkStats;
  readonly config: WarehouseSinkConfig;
  /** The resolved table (after `connect`). */
  plan(): TablePlan | undefined;
}

/**
 * A warehouse sink for a topology output (one table). The factory validates the config at once
 * (CONFIG_INVALID before any I/O); the connector does I/O only from `connect`.
 *
 * @example
 *   outputs: [{ topic: 'warehouse.silver.orders', schema: 'silver.orders',
 *     sink: warehouseSink({ avroSchema: 'silver.orders', schema: 'silver', table: 'orders',
 *                           mode: 'upsert', keyColumns: ['order_id'], orderingColumn: 'updated_at' }) }]
 */
export function warehouseSink(options: WarehouseSinkOptions): SinkFactory {
  const cfg = parseWarehouseSinkConfig(options);
  return (ctx) => createWarehouseSinkConnector(cfg, ctx);
}

/**
 * The connector of one table for a validated config (tests and benchmarks build it directly).
 *
 * @example const sink = createWarehouseSinkConnector(parseWarehouseSinkConfig(options), ctx); await sink.connect();
 */
export function createWarehouseSinkConnector(cfg: WarehouseSinkConfig, ctx: SinkContext): WarehouseSinkConnector {
  const member = createMember(cfg, ctx);
  const writer = writerFor(cfg, ctx);
  writer.join(member);
  return {
    name: member.name,
    stats: member.stats,
    config: cfg,
    // A flush takes what is pending once batchRecords are (across partitions: per partition at most that).
    holds: { records: cfg.batchRecords, bytes: 0 },
    plan: () => member.plan,
    async connect() {
      if (member.closed) throw new SluiceError('INTERNAL', `warehouse sink ${member.name} is closed`);
      await writer.connectMember(member);
    },
    add: (output) => addOutput(writer, member, output),
    flush: () => writer.flush(),
    async close(deadlineMs) {
      if (member.closed) return;
      await writer.leave(member, deadlineMs);
    },
    async storedOffsets(topic) {
      await writer.connectMember(member);
      return readStoredOffsets(writer.query.bind(writer), member.name, topic);
    },
  };
}

/** Queues an output, or fails its acks when the sink cannot take it (closed; append without a source record). */
function addOutput(writer: WarehouseWriter, member: Member, output: Output): void {
  if (member.closed) {
    const err = new SluiceError('INTERNAL', `warehouse sink ${member.name} received a record after close`);
    for (const a of output.acks) a.fail(err);
    return;
  }
  if (member.cfg.mode === 'append' && !output.source) {
    const err = new SluiceError(
      'INTERNAL',
      `warehouse sink ${member.name} (append) needs the source record of every output:` +
        " its coordinates are the row's identity",
    );
    for (const a of output.acks) a.fail(err);
    return;
  }
  writer.add(member, output);
}
