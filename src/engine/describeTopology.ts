import { startTopology } from './topologyInstance.ts';
import { dlqTopicOf } from '../topology/defineTopology.ts';
import type { GraphData } from '../topology/graph.ts';
import { type LineageEntry, lineageOf } from '../topology/lineage.ts';
import { dedupeChangelogTopic } from '../topology/rules.ts';
import type { TopologyDefinition } from '../topology/types.ts';

/**
 * A topology for `sluice describe`: its declarations (sources, tables, rules, outputs) and the
 * graph its pipeline builds — operators, outputs, DLQs, tables, state stores — with the lineage
 * derived from that graph. Builds the pipeline without I/O and without running it.
 */
export interface TopologyDescription {
  name: string;
  description?: string;
  sources: { topic: string; schema: string; dlq: string }[];
  references: { name: string; topic: string; key: string }[];
  rules: { name: string; kind: string; field?: string; check: string; state?: string }[];
  outputs: { topic: string; schema: string; sink?: boolean }[];
  lineage: LineageEntry[];
  graph: GraphData;
}

export function describeTopology(def: TopologyDefinition): TopologyDescription {
  const graph = builtGraph(def);
  return {
    name: def.name,
    description: def.description,
    sources: def.sources.map((s) => ({ topic: s.topic, schema: s.schema ?? s.topic, dlq: dlqTopicOf(s) })),
    references: Object.entries(def.references ?? {}).map(([name, r]) => ({ name, topic: r.topic, key: r.key })),
    // Dedupe rules keep durable state, scoped to one partition of the topic they validate.
    rules: (def.rules ?? []).map((r) => ({
      name: r.name,
      kind: r.kind,
      field: r.field,
      check: r.describe(),
      ...(r.dedupe ? { state: dedupeChangelogTopic(def.name, r) } : {}),
    })),
    outputs: def.outputs.map((o) => ({ topic: o.topic, schema: o.schema, ...(o.sink ? { sink: true } : {}) })),
    lineage: lineageOf(graph),
    graph,
  };
}

/** The graph the pipeline builds: an instance with no serde and no tables, stopped at once. */
function builtGraph(def: TopologyDefinition): GraphData {
  const instance = startTopology(def, {
    tables: {},
    now: Date.now,
    route: () => {},
    onFatal: (err) => {
      throw err;
    },
  });
  try {
    return instance.graph();
  } finally {
    instance.stop();
  }
}

export function graphAsText(g: TopologyDescription): string {
  const lines = [`topology ${g.name}${g.description ? ` — ${g.description}` : ''}`];
  lines.push('  sources:', ...g.sources.map((s) => `    ${s.topic} (schema ${s.schema}, dlq ${s.dlq})`));
  if (g.references.length)
    lines.push('  reference tables:', ...g.references.map((r) => `    ${r.name} ← ${r.topic} by ${r.key}`));
  if (g.rules.length) lines.push('  rules:', ...g.rules.map(ruleLine));
  lines.push('  outputs:', ...g.outputs.map((o) => `    ${o.topic} (${o.sink ? 'sink, ' : ''}schema ${o.schema})`));
  const stores = g.graph.nodes.filter((n) => n.kind === 'store' || n.kind === 'late');
  if (stores.length) lines.push('  state and late records:', ...stores.map((n) => `    ${n.name} (${n.kind})`));
  lines.push('  lineage:', ...g.lineage.map((l) => `    ${[l.from, ...l.via, l.to].join(' → ')}`));
  return lines.join('\n');
}

function ruleLine(r: TopologyDescription['rules'][number]): string {
  const scope = r.state
    ? ` — state ${r.state}, co-partitioned with the source: a duplicate is found only in the partition of its ` +
      'original (key the topic by the id, or repartition by it)'
    : '';
  return `    ${r.name} [${r.kind}] ${r.check}${scope}`;
}

const EDGE_ARROWS = {
  records: '-->',
  'dead-letters': '-. dlq .->',
  lookups: '-. table .->',
  state: '-. state .->',
  late: '-. late .->',
};

/** Every topology's graph in one Mermaid flowchart: operators inside each topology, topics between. */
export function graphAsMermaid(graphs: TopologyDescription[]): string {
  const id = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_');
  const quote = (s: string) => s.replaceAll('"', "'");
  const lines = ['flowchart LR'];
  const topics = new Map<string, string>();
  for (const g of graphs) {
    const nodeId = (n: string) => (n.startsWith('op:') ? id(`${g.name}_${n}`) : id(`t_${n.slice(n.indexOf(':') + 1)}`));
    lines.push(`  subgraph ${id(`topology_${g.name}`)}["topology ${g.name}"]`);
    for (const n of g.graph.nodes) {
      if (n.kind === 'operator') lines.push(`    ${nodeId(n.id)}["${quote(n.name)}"]`);
      else topics.set(nodeId(n.id), n.kind === 'store' ? `[("${quote(n.name)}")]` : `[["${quote(n.name)}"]]`);
    }
    lines.push('  end');
    for (const e of g.graph.edges) lines.push(`  ${nodeId(e.from)} ${EDGE_ARROWS[e.kind]} ${nodeId(e.to)}`);
  }
  for (const [node, shape] of topics) lines.push(`  ${node}${shape}`);
  return lines.join('\n');
}
