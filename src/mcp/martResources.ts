import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { McpDeps } from './mcpDeps.ts';

/**
 * `sluice://marts/{name}`: every table and view of the gold schema (marts, facts, dimensions) as
 * the warehouse describes it now — its comment, and its columns with type, nullability and
 * comment — read through the reader role, so what a model is shown is what `query_gold` can read.
 */

const TABLES =
  `select c.relname as name, coalesce(obj_description(c.oid, 'pg_class'), '') as doc ` +
  `from pg_class c join pg_namespace n on n.oid = c.relnamespace ` +
  `where n.nspname = $1 and c.relkind in ('r', 'p', 'v', 'm') order by c.relname`;

const COLUMNS =
  `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, not a.attnotnull as nullable, ` +
  `coalesce(col_description(a.attrelid, a.attnum), '') as doc from pg_attribute a ` +
  `where a.attrelid = to_regclass(format('%I.%I', $1::text, $2::text)) and a.attnum > 0 and not a.attisdropped ` +
  `order by a.attnum`;

export function registerMartResources(server: McpServer, deps: McpDeps): void {
  const { gold } = deps;
  const tables = async () =>
    (await gold.query(TABLES, [gold.schema], { maxRows: 1000 })).rows as { name: string; doc: string }[];
  server.registerResource(
    'marts',
    new ResourceTemplate('sluice://marts/{name}', {
      list: async () => ({
        resources: (await tables()).map((t) => ({
          uri: `sluice://marts/${t.name}`,
          name: `${gold.schema}.${t.name}`,
          description: t.doc || `Table ${gold.schema}.${t.name}`,
          mimeType: 'application/json',
        })),
      }),
      complete: { name: async (prefix) => (await tables()).map((t) => t.name).filter((n) => n.startsWith(prefix)) },
    }),
    {
      title: 'Gold tables and marts',
      description: 'A table of the gold warehouse schema: description and columns with types and docs',
      mimeType: 'application/json',
    },
    async (uri, { name }) => {
      const table = String(name);
      const found = (await tables()).find((t) => t.name === table);
      if (!found) throw new Error(`no table ${table} in ${gold.schema}`);
      const { rows: columns } = await gold.query(COLUMNS, [gold.schema, table], { maxRows: 2000 });
      const text = JSON.stringify({ schema: gold.schema, table, description: found.doc, columns }, null, 2);
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text }] };
    },
  );
}
