import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { listedIncidents } from '../../alerts/formatIncidents.ts';
import { readIncidents } from '../../alerts/incidentStore.ts';
import { sortIncidents } from '../../alerts/incidentTracker.ts';
import { SluiceError } from '../../core/errors.ts';
import { parseDuration } from '../../core/pacing.ts';
import type { McpDeps } from '../mcpDeps.ts';
import { runTool } from '../toolResult.ts';

/** `incidents`: open and recently resolved incidents, as `sluice incidents --json` lists them. */
export function registerIncidentsTool(server: McpServer, deps: McpDeps): void {
  server.registerTool(
    'incidents',
    {
      title: 'Open and recent incidents',
      description:
        'Incidents the alert rules opened (freshness breaches, quality below threshold, DLQ rate, consumer lag, ' +
        'runners not ready, failing warehouse tests): every open one and those resolved within `recent`, open ' +
        'first, each with rule, subject, severity, a one-line summary, when it started and resolved, and the ' +
        'measured evidence.',
      inputSchema: {
        status: z
          .enum(['open', 'all'])
          .default('all')
          .describe('open: only open incidents; all: also recently resolved'),
        recent: z.string().default('24h').describe('How long resolved incidents stay listed, e.g. 30m, 24h, 7d'),
      },
      outputSchema: {
        topic: z.string(),
        open: z.number(),
        resolved: z.number(),
        incidents: z.array(z.record(z.string(), z.unknown())),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ status, recent }) =>
      runTool(async () => {
        let recentMs: number;
        try {
          recentMs = parseDuration(recent);
        } catch (err) {
          throw new SluiceError('MCP_QUERY_FAILED', `recent: ${(err as Error).message}`);
        }
        const topic = deps.cfg.incidentsTopic;
        const all = sortIncidents(
          listedIncidents([...(await readIncidents(deps.kafka, topic)).values()], Date.now(), recentMs),
        );
        const incidents = status === 'open' ? all.filter((i) => i.status === 'open') : all;
        const open = all.filter((i) => i.status === 'open').length;
        return { topic, open, resolved: all.length - open, incidents };
      }),
  );
}
