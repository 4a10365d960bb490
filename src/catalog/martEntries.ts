import { MART_DEFINITIONS, MART_LOADED_AT } from '../shop/martDefinitions.ts';
import { testName, type WarehouseTest } from '../shop/warehouseTests.ts';
import type { CatalogEntry } from './catalogEntry.ts';

/**
 * The gold marts as catalog entries, and the facts' entries linked downstream to them. The marts
 * are written by the warehouse sink's hooks, not by a sink output of their own, so they have no
 * schema file and no topic: their columns come from `martDefinitions.ts` and their upstream is
 * the gold tables they are computed from.
 *
 * @example const entries = withMartEntries(buildEntries(...), WAREHOUSE_TESTS);
 */
export function withMartEntries(entries: CatalogEntry[], tests: readonly WarehouseTest[]): CatalogEntry[] {
  const byTable = new Map(
    entries.filter((e) => e.kind === 'table').map((e) => [e.name.slice(e.name.lastIndexOf('.') + 1), e]),
  );
  const facts = byTable.get('fact_orders');
  if (!facts) return entries; // a catalog without the warehouse model's gold tables has no marts
  const gold = facts.name.slice(0, facts.name.lastIndexOf('.')); // `warehouse:<gold schema>`
  const marts: CatalogEntry[] = MART_DEFINITIONS.map((d) => {
    const name = `${gold}.${d.table}`;
    for (const source of d.from) byTable.get(source)?.downstream.push({ kind: 'table', name });
    return {
      kind: 'table',
      name,
      description: d.doc,
      owner: facts.owner,
      ...(facts.ownerTopology ? { ownerTopology: facts.ownerTopology } : {}),
      schema: { name: null, subject: null, status: 'no subject' },
      fields: [...d.columns, MART_LOADED_AT].map((c) => ({
        name: c.name,
        type: `${c.type} not null`,
        doc: c.doc,
        pii: null,
      })),
      upstream: d.from.map((source) => ({ kind: 'table' as const, name: `${gold}.${source}` })),
      downstream: [],
      freshness: null,
      quality: {
        dlq: [],
        rules: [],
        tests: tests.filter((t) => t.layer === 'gold' && t.table === d.table).map(testName),
      },
      warehouse: { status: 'offline' },
    };
  });
  return [...entries, ...marts];
}
