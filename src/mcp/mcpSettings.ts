import { z } from 'zod';
import { port, positiveInt, type Setting } from '../config/settingSchemas.ts';

/**
 * The settings of `sluice mcp` (the MCP server), declared beside it; `src/config/config.ts` joins
 * them into the one settings table. The read-only role's password and the HTTP token default to
 * secrets generated into the stack directory, like the feed token.
 */
export const MCP_SETTINGS = {
  mcpHost: {
    env: 'SLUICE_MCP_HOST',
    description: '`sluice mcp --http` bind address',
    default: '127.0.0.1',
    schema: z.string().min(1),
  },
  mcpPort: {
    env: 'SLUICE_MCP_PORT',
    description: '`sluice mcp --http` port (the endpoint is /mcp)',
    default: '8765',
    schema: port,
  },
  mcpToken: {
    env: 'SLUICE_MCP_TOKEN',
    description:
      'Bearer token `sluice mcp --http` requires (or _FILE; unset: the one generated into <stack>/secrets/mcp-token)',
    secret: true,
    schema: z.string(),
  },
  mcpAllowedOrigins: {
    env: 'SLUICE_MCP_ALLOWED_ORIGINS',
    description: 'Comma-separated browser Origins allowed to call `sluice mcp --http` (empty: localhost only)',
    default: '',
    schema: z.string(),
  },
  mcpReaderUser: {
    env: 'SLUICE_MCP_READER_USER',
    description: 'Postgres role `sluice mcp` queries the gold schema as (created if missing: SELECT on gold only)',
    default: 'sluice_mcp_reader',
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case Postgres identifier'),
  },
  mcpReaderPassword: {
    env: 'SLUICE_MCP_READER_PASSWORD',
    description:
      'Password of SLUICE_MCP_READER_USER (or _FILE; unset: the one generated into <stack>/secrets/mcp-reader-password)',
    secret: true,
    schema: z.string(),
  },
  mcpSchemaPrefix: {
    env: 'SLUICE_MCP_SCHEMA_PREFIX',
    description: 'Prefix of the warehouse schemas `sluice mcp` reads (`it_x` reads it_x_gold; empty: gold)',
    default: '',
    schema: z.string().regex(/^([a-z_][a-z0-9_]{0,40})?$/, 'a lower-case identifier prefix, or empty'),
  },
  mcpStatementTimeoutMs: {
    env: 'SLUICE_MCP_STATEMENT_TIMEOUT_MS',
    description: 'Longest a `query_gold` or `revenue_by_category` statement may run before Postgres cancels it',
    default: '5000',
    schema: positiveInt,
  },
  mcpMaxRows: {
    env: 'SLUICE_MCP_MAX_ROWS',
    description: 'Most rows a `query_gold` call returns; more are cut off and reported as truncated',
    default: '500',
    schema: positiveInt,
  },
  mcpDlqScanRecords: {
    env: 'SLUICE_MCP_DLQ_SCAN_RECORDS',
    description: 'Newest records per partition `dlq_summary` reads from each dead-letter topic to count reasons',
    default: '1000',
    schema: positiveInt,
  },
} as const satisfies Record<string, Setting>;
