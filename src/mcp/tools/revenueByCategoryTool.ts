import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { SluiceError } from '../../core/errors.ts';
import type { McpDeps } from '../mcpDeps.ts';
import { runTool } from '../toolResult.ts';

/**
 * `revenue_by_category`: the daily revenue mart for a day or a range of days, per category, with
 * the total. Purpose-built so the commonest question needs no SQL from the model at all; it goes
 * through the same read-only path as `query_gold`.
 */

const DATE = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)), 'a real calendar date');

const SQL =
  'select order_date::text as order_date, category, revenue::text as revenue, orders::text as orders, ' +
  'avg_order_value::text as avg_order_value from mart_revenue_daily ' +
  'where order_date between $1::date and $2::date order by order_date, revenue desc, category';

const MAX_DAYS = 366;

/** Sums decimal strings exactly (in hundredths). */
function sumMoney(values: string[]): string {
  const cents = values.reduce((n, v) => n + BigInt(Math.round(Number(v) * 100)), 0n);
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

export function registerRevenueByCategoryTool(server: McpServer, deps: McpDeps): void {
  const { gold } = deps;
  server.registerTool(
    'revenue_by_category',
    {
      title: 'Revenue by product category per day',
      description:
        `Revenue, order count and average order value per product category and day, from ${gold.schema}.` +
        'mart_revenue_daily (days in UTC). Answers questions like "revenue by category today" or "last week by ' +
        'category". Give `date` for one day, or `from` and `to` (inclusive) for a range; with neither, today (UTC). ' +
        'Amounts are exact decimals as text, in the shop currency.',
      inputSchema: {
        date: DATE.optional().describe('One day, YYYY-MM-DD (UTC); default today'),
        from: DATE.optional().describe('First day of a range, YYYY-MM-DD'),
        to: DATE.optional().describe('Last day of a range (inclusive), YYYY-MM-DD; default: from'),
      },
      outputSchema: {
        from: z.string(),
        to: z.string(),
        rows: z.array(
          z.object({
            order_date: z.string(),
            category: z.string(),
            revenue: z.string(),
            orders: z.string(),
            avg_order_value: z.string().nullable(),
          }),
        ),
        total: z.object({ revenue: z.string(), orders: z.string() }),
      },
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ date, from, to }) =>
      runTool(async () => {
        if (date && (from || to)) throw new SluiceError('MCP_QUERY_FAILED', 'give either `date` or `from`/`to`');
        const first = date ?? from ?? new Date().toISOString().slice(0, 10);
        const last = date ?? to ?? first;
        const days = (Date.parse(last) - Date.parse(first)) / 86_400_000;
        if (days < 0) throw new SluiceError('MCP_QUERY_FAILED', `\`to\` (${last}) is before \`from\` (${first})`);
        if (days >= MAX_DAYS) throw new SluiceError('MCP_QUERY_FAILED', `at most ${MAX_DAYS} days at once`);
        const result = await gold.query(SQL, [first, last], { maxRows: 100_000 }).catch((err: unknown) => {
          if ((err as SluiceError).details?.sqlState === '42P01')
            throw new SluiceError('MCP_NOT_FOUND', `${gold.schema}.mart_revenue_daily does not exist yet`, {
              cause: err,
            });
          throw err;
        });
        const rows = result.rows as { revenue: string; orders: string }[];
        return {
          from: first,
          to: last,
          rows,
          total: {
            revenue: sumMoney(rows.map((r) => r.revenue)),
            orders: String(rows.reduce((n, r) => n + BigInt(r.orders), 0n)),
          },
        };
      }),
  );
}
