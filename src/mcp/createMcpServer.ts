import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/config.ts';
import { registerMartResources } from './martResources.ts';
import type { McpDeps } from './mcpDeps.ts';
import { registerSchemaResources } from './schemaResources.ts';
import { registerDlqSummaryTool } from './tools/dlqSummaryTool.ts';
import { registerIncidentsTool } from './tools/incidentsTool.ts';
import { registerLatestMetricsTool } from './tools/latestMetricsTool.ts';
import { registerListCatalogTool } from './tools/listCatalogTool.ts';
import { registerQueryGoldTool } from './tools/queryGoldTool.ts';
import { registerRevenueByCategoryTool } from './tools/revenueByCategoryTool.ts';

/** The names of the tools `sluice mcp` serves, in the order it lists them. */
export const MCP_TOOL_NAMES = [
  'list_catalog',
  'latest_metrics',
  'dlq_summary',
  'incidents',
  'revenue_by_category',
  'query_gold',
] as const;

const INSTRUCTIONS =
  'Sluice is the stream-processing engine of a web shop: orders, order items, customers, products and the ' +
  'clickstream flow through Kafka topics into real-time metrics and a Postgres warehouse. Everything here is ' +
  'read-only. Start with list_catalog to find data sets; revenue_by_category answers revenue questions ' +
  'directly; query_gold runs one SELECT over the gold warehouse schema with $1..$n parameters (read the ' +
  'sluice://marts/{name} resources for its tables); latest_metrics gives the live per-minute metrics; ' +
  'dlq_summary and incidents tell what is failing. Personal data is shown masked.';

function version(): string {
  return (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * An MCP server with Sluice's tools and resources over `deps`. Cheap: the HTTP transport builds
 * one per request (stateless), stdio one per process.
 *
 * @example const server = createMcpServer(deps); await server.connect(new StdioServerTransport());
 */
export function createMcpServer(deps: McpDeps): McpServer {
  const server = new McpServer({ name: 'sluice', title: 'Sluice', version: version() }, { instructions: INSTRUCTIONS });
  registerListCatalogTool(server, deps);
  registerLatestMetricsTool(server, deps);
  registerDlqSummaryTool(server, deps);
  registerIncidentsTool(server, deps);
  registerRevenueByCategoryTool(server, deps);
  registerQueryGoldTool(server, deps);
  registerSchemaResources(server);
  registerMartResources(server, deps);
  return server;
}
