import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { latestMetrics } from '../latestMetrics.ts';
import type { McpDeps } from '../mcpDeps.ts';
import { runTool } from '../toolResult.ts';

/** `latest_metrics`: the newest windows of one real-time metric. */
export function registerLatestMetricsTool(server: McpServer, deps: McpDeps): void {
  server.registerTool(
    'latest_metrics',
    {
      title: 'Latest real-time metric windows',
      description:
        'The newest event-time windows of a real-time metric computed by the topologies, as the live dashboard ' +
        'shows them: per window (start, end in UTC) the latest result per group key, and whether the window is ' +
        'final (closed) or still provisional. Metrics: revenue_per_minute (per category, "__all__" for the ' +
        'total), orders_per_minute (per status), funnel_5m, active_sessions, dlq_per_minute, quality; an ' +
        'unknown name is answered with the list of known ones.',
      inputSchema: {
        metric: z
          .string()
          .regex(/^[A-Za-z0-9._-]{1,240}$/)
          .describe('Metric name, the topic without "metrics.", e.g. revenue_per_minute'),
        key: z
          .string()
          .max(200)
          .optional()
          .describe('Only results whose key or a group field contains this text, e.g. a category'),
        windows: z.number().int().min(1).max(100).default(5).describe('How many of the newest windows'),
      },
      outputSchema: {
        metric: z.string(),
        topic: z.string(),
        scanned: z.number().describe('Records read from the end of the topic'),
        windows: z.array(
          z.object({
            start: z.string(),
            end: z.string(),
            final: z.boolean(),
            results: z.array(
              z.object({
                key: z.string(),
                value: z.record(z.string(), z.unknown()),
                final: z.boolean(),
                emittedAt: z.string(),
              }),
            ),
          }),
        ),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ metric, key, windows }) => runTool(async () => ({ ...(await latestMetrics(deps, { metric, key, windows })) })),
  );
}
