import type { GraphData, GraphNode } from './graph.ts';

/** One path through a topology: a source topic, the operators on the way, where it ends. */
export interface LineageEntry {
  from: string;
  via: string[];
  to: string;
}

/**
 * The lineage of a topology, derived from its graph: every path of records from a source topic
 * through operators to an output topic or sink, and from each source to its DLQ through the
 * operators that can dead-letter its records.
 */
export function lineageOf(graph: GraphData): LineageEntry[] {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const out = new Map<string, GraphNode[]>();
  const deadLetters = new Map<string, { dlq: string; source?: string }[]>();
  for (const e of graph.edges) {
    if (e.kind === 'records') out.set(e.from, [...(out.get(e.from) ?? []), byId.get(e.to)!]);
    if (e.kind === 'dead-letters') {
      deadLetters.set(e.from, [...(deadLetters.get(e.from) ?? []), { dlq: byId.get(e.to)!.name, source: e.source }]);
    }
  }
  const entries: LineageEntry[] = [];
  for (const source of graph.nodes.filter((n) => n.kind === 'source')) {
    const toDlq = new Map<string, string[]>();
    const walk = (node: GraphNode, via: string[], seen: Set<string>) => {
      for (const next of out.get(node.id) ?? []) {
        if (next.kind !== 'operator') {
          entries.push({ from: source.name, via, to: next.name });
          continue;
        }
        if (seen.has(next.id)) continue;
        for (const { dlq, source: of } of deadLetters.get(next.id) ?? []) {
          if (of !== source.name) continue;
          const ops = toDlq.get(dlq) ?? [];
          if (!ops.includes(next.name)) toDlq.set(dlq, [...ops, next.name]);
        }
        // A write's own step says no more than where the path ends.
        const step = next.operator === 'toTopic' ? [] : [next.name];
        walk(next, [...via, ...step], new Set([...seen, next.id]));
      }
    };
    walk(source, [], new Set());
    for (const [dlq, via] of toDlq) entries.push({ from: source.name, via, to: dlq });
  }
  return entries;
}
