import pg from 'pg';
import { type Config, pgConnection } from '../config/config.ts';
import { layerSchemas } from '../shop/warehouseModel.ts';
import { mcpReaderPasswordOf } from './mcpSecrets.ts';
import { type ReadOnlyResult, readOnlyQuery } from './readOnlyQuery.ts';

/** What the MCP tools read the gold schema with: the reader role's pool and its limits. */
export interface GoldReader {
  /** The Postgres schema read (`gold`, or `<prefix>_gold`). */
  schema: string;
  maxRows: number;
  /** One statement, read-only, as the reader role, at most `maxRows` rows (see `readOnlyQuery`). */
  query(sql: string, params?: unknown[], opts?: { maxRows?: number }): Promise<ReadOnlyResult>;
  close(): Promise<void>;
}

/**
 * A small pool of connections as SLUICE_MCP_READER_USER (never the admin user) to the warehouse.
 * Each session also starts read-only from its startup packet, whatever the role's defaults are.
 *
 * @example const gold = createGoldReader(cfg); await gold.query('select count(*) from fact_orders');
 */
export function createGoldReader(cfg: Config): GoldReader {
  const schema = layerSchemas(cfg.mcpSchemaPrefix).gold;
  const pool = new pg.Pool({
    ...pgConnection(cfg, cfg.warehouseDatabase),
    user: cfg.mcpReaderUser,
    password: mcpReaderPasswordOf(cfg),
    application_name: 'sluice-mcp',
    options: '-c default_transaction_read_only=on',
    max: 4,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    // The client-side backstop of the server's statement timeout.
    query_timeout: cfg.mcpStatementTimeoutMs + 10_000,
  });
  // An idle connection the server closed must not crash the server process; the pool replaces it.
  pool.on('error', () => {});
  return {
    schema,
    maxRows: cfg.mcpMaxRows,
    query: (sql, params = [], opts = {}) =>
      readOnlyQuery(pool, sql, params, {
        schema,
        timeoutMs: cfg.mcpStatementTimeoutMs,
        maxRows: opts.maxRows ?? cfg.mcpMaxRows,
      }),
    close: () => pool.end(),
  };
}
