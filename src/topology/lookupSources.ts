import { type GraphData, UNTRACED } from './graph.ts';

/**
 * The source topics whose records reach an operator that looks up a reference table (an
 * `enrich`, a rule with `references`), walking the graph's record edges back from every lookup.
 * Only their batches need the tables caught up first; the others (a repartition topic feeding
 * windows, a DLQ feeding counts) skip the end-offset round trips. `undefined` when the graph has
 * an untraced stretch (plain RxJS) a lookup could sit behind: then every source needs it.
 *
 * @example sourcesThatLookUp(instance.graph()) // Set { 'silver.order_items' }
 */
export function sourcesThatLookUp(graph: GraphData): Set<string> | undefined {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const into = new Map<string, string[]>();
  for (const e of graph.edges) {
    if (e.kind !== 'records') continue;
    const list = into.get(e.to);
    if (list) list.push(e.from);
    else into.set(e.to, [e.from]);
  }
  const sources = new Set<string>();
  const seen = new Set<string>();
  const pending = graph.edges.filter((e) => e.kind === 'lookups').map((e) => e.to);
  while (pending.length) {
    const id = pending.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const node = byId.get(id);
    if (node?.operator === UNTRACED) return undefined;
    if (node?.kind === 'source') sources.add(node.name);
    pending.push(...(into.get(id) ?? []));
  }
  return sources;
}
