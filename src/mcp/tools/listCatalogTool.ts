import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { CatalogEntry } from '../../catalog/catalogEntry.ts';
import { addLiveFacts } from '../../catalog/catalogLive.ts';
import { declaredCatalog } from '../../catalog/declaredCatalog.ts';
import type { McpDeps } from '../mcpDeps.ts';
import { runTool } from '../toolResult.ts';

/** Whether an entry matches a filter text: its name, description, owner or a field name or doc. */
export function catalogMatches(e: CatalogEntry, filter: string): boolean {
  const needle = filter.toLowerCase();
  const texts = [e.name, e.description ?? '', e.owner?.team ?? '', ...e.fields.flatMap((f) => [f.name, f.doc ?? ''])];
  return texts.some((t) => t.toLowerCase().includes(needle));
}

/** `list_catalog`: the data catalog, as `sluice catalog --json` builds it. */
export function registerListCatalogTool(server: McpServer, deps: McpDeps): void {
  server.registerTool(
    'list_catalog',
    {
      title: 'Data catalog: topics and warehouse tables',
      description:
        'The data catalog: every Kafka topic the topologies read or write and every warehouse table (named ' +
        'warehouse:<schema>.<table>), with description, owner, schema, fields (type, doc, personal-data mark), ' +
        'upstream and downstream lineage, freshness SLA and quality checks (DLQs, rules, warehouse tests). ' +
        '`filter` keeps entries whose name, description, owner or a field mentions the text. `live` adds what ' +
        'the services know now (registered schema versions, measured freshness, whether a table exists): slower.',
      inputSchema: {
        filter: z.string().max(200).optional().describe('Text to look for, e.g. orders, email, gold'),
        kind: z.enum(['topic', 'table']).optional().describe('Only topics or only tables'),
        live: z.boolean().default(false).describe('Ask the registry, Kafka and Postgres for live facts'),
      },
      outputSchema: {
        live: z.boolean(),
        count: z.number(),
        entries: z.array(z.record(z.string(), z.unknown())),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ filter, kind, live }) =>
      runTool(async () => {
        const chosen = declaredCatalog(deps.cfg).filter(
          (e) => (!kind || e.kind === kind) && (!filter || catalogMatches(e, filter)),
        );
        const entries = live ? await addLiveFacts(deps.cfg, chosen, deps.cfg.freshnessSlas) : chosen;
        return { live, count: entries.length, entries };
      }),
  );
}
