import pg from 'pg';
import { loadConfig, pgConnection } from '../../../src/config/config.ts';
import type { SinkContext } from '../../../src/topology/types.ts';
import type { WarehouseSinkConfig } from './config.ts';
import { warehouseLog as log } from './warehouseLog.ts';

/**
 * The connection pool of a writer, from its first sink's settings: `connection` if given, else
 * the runner's configuration (what `sluice run` validated at start-up), else the environment.
 *
 * @example const pool = createWarehousePool(cfg, ctx);
 */
export function createWarehousePool(first: WarehouseSinkConfig, ctx: SinkContext): pg.Pool {
  const base =
    first.connection ??
    (() => {
      const c = ctx.config ?? loadConfig();
      return pgConnection(c, c.warehouseDatabase);
    })();
  const pool = new pg.Pool({
    ...base,
    ...(first.database ? { database: first.database } : {}),
    max: first.poolSize,
    idleTimeoutMillis: 30_000,
    application_name: 'sluice-warehouse',
  });
  pool.on('error', (err) => log.warn({ err: err.message }, 'idle warehouse connection lost'));
  return pool;
}
