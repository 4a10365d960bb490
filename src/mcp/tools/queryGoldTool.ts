import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { McpDeps } from '../mcpDeps.ts';
import { runTool } from '../toolResult.ts';

/** `query_gold`: one read-only SQL statement over the gold schema, values as $1..$n parameters. */
export function registerQueryGoldTool(server: McpServer, deps: McpDeps): void {
  const { gold } = deps;
  server.registerTool(
    'query_gold',
    {
      title: 'Query the gold warehouse schema (read-only SQL)',
      description:
        `Runs ONE read-only SQL statement (SELECT, WITH ... SELECT, VALUES, SHOW, EXPLAIN) on the Postgres ` +
        `warehouse's gold schema "${gold.schema}" (facts, dimensions and marts; unqualified table names resolve ` +
        'there; read sluice://marts/{name} for the tables and their columns). Put every literal value in ' +
        '`params` and refer to it as $1, $2, ... (cast when the type is ambiguous, e.g. $1::date); never write ' +
        `values into the SQL. At most ${gold.maxRows} rows come back (\`truncated\` says when there were more): ` +
        'aggregate in SQL rather than fetching raw rows. Writes, DDL, SET ROLE and side effects are refused ' +
        '(SLUICE_ERR_MCP_QUERY_REFUSED); long statements are cancelled (SLUICE_ERR_MCP_QUERY_TIMEOUT).',
      inputSchema: {
        sql: z
          .string()
          .min(1)
          .max(20_000)
          .describe(
            'One SQL statement, with $1..$n placeholders for values, e.g. select * from fact_orders where status = $1',
          ),
        params: z
          .array(z.union([z.string(), z.number(), z.boolean(), z.null()]))
          .max(100)
          .default([])
          .describe('Values of $1..$n in order (strings for dates, timestamps and decimals)'),
        max_rows: z
          .number()
          .int()
          .positive()
          .optional()
          .describe(`Fewer rows than the server's limit of ${gold.maxRows}`),
      },
      outputSchema: {
        schema: z.string().describe('The Postgres schema the statement ran in'),
        columns: z.array(z.object({ name: z.string(), type: z.string() })),
        rows: z.array(z.record(z.string(), z.unknown())).describe('One object per row; numeric and bigint as text'),
        rowCount: z.number(),
        truncated: z.boolean().describe('More rows existed than were returned'),
        maxRows: z.number(),
        command: z.string().nullable(),
      },
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ sql, params, max_rows }) =>
      runTool(async () => {
        const maxRows = Math.min(max_rows ?? gold.maxRows, gold.maxRows);
        return { schema: gold.schema, ...(await gold.query(sql, params, { maxRows })) };
      }),
  );
}
