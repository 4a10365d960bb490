import type { SinkContext } from '../../../src/topology/types.ts';
import type { WarehouseSinkConfig } from './config.ts';
import { WarehouseWriter } from './warehouseWriter.ts';

/** Transaction groups per runner: the runner hands all its sinks the same `schemaIds` map. */
const groups = new WeakMap<object, Map<string, WarehouseWriter>>();

/**
 * The writer of a sink: a new one for a sink without `transactionGroup`; otherwise the one its
 * group shares in this runner (same topology, group, database and connection), made by the
 * first sink of the group and forgotten when the last one leaves.
 *
 * @example const writer = writerFor(cfg, ctx); writer.join(member);
 */
export function writerFor(cfg: WarehouseSinkConfig, ctx: SinkContext): WarehouseWriter {
  if (!cfg.transactionGroup) return new WarehouseWriter(cfg, ctx, () => {});
  const key = [ctx.topology, cfg.transactionGroup, cfg.database, connectionKey(cfg)].join('\u0000');
  let byKey = groups.get(ctx.schemaIds);
  if (!byKey) {
    byKey = new Map();
    groups.set(ctx.schemaIds, byKey);
  }
  let writer = byKey.get(key);
  if (!writer) {
    const map = byKey;
    writer = new WarehouseWriter(cfg, ctx, () => {
      map.delete(key);
    });
    byKey.set(key, writer);
  }
  return writer;
}

/** Which server, database and user an explicit `connection` points at ('' without one). */
function connectionKey(cfg: WarehouseSinkConfig): string {
  if (!cfg.connection) return '';
  const { host, port, database, user } = cfg.connection;
  return JSON.stringify({ h: host, p: port, d: database, u: user });
}
