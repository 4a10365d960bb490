import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { dlqSummary } from '../dlqSummary.ts';
import type { McpDeps } from '../mcpDeps.ts';
import { runTool } from '../toolResult.ts';

/** `dlq_summary`: why records were dead-lettered, per DLQ, with recent examples. */
export function registerDlqSummaryTool(server: McpServer, deps: McpDeps): void {
  server.registerTool(
    'dlq_summary',
    {
      title: 'Dead-letter topics: counts by reason and rule, recent examples',
      description:
        'Summarises the dead-letter topics (<source>.dlq): records held, counts by reason (deserialize, schema, ' +
        'rule, processing, sink), by data-quality rule and by topology over the newest records, and the newest ' +
        'examples with the source topic/partition/offset they failed at and the error message. Personal data ' +
        'fields are shown as [redacted]. Give `topic` (a DLQ like oltp.orders.dlq, or its source oltp.orders) ' +
        'for one; without it, every DLQ, fullest first.',
      inputSchema: {
        topic: z.string().max(249).optional().describe('A DLQ topic or its source topic; default: every DLQ'),
        examples: z.number().int().min(0).max(20).default(3).describe('Newest examples per DLQ'),
      },
      outputSchema: {
        topics: z.array(z.record(z.string(), z.unknown())),
        omitted: z.array(z.string()).describe('DLQs not summarised (beyond the first 25)'),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ topic, examples }) => runTool(async () => ({ ...(await dlqSummary(deps, { topic, examples })) })),
  );
}
