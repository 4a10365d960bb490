import { dlqTopicOf } from './defineTopology.ts';
import type { TopologyDefinition } from './types.ts';
import { dedupeChangelogTopic } from './rules.ts';

/**
 * The graph of a topology for `sluice describe`: sources, rules, operators, sinks and the
 * lineage from each source to each output, as JSON, text and Mermaid. Pure: reads the definition.
 */
export interface TopologyGraph {
  name: string;
  description?: string;
  sources: { topic: string; schema: string; dlq: string }[];
  references: { name: string; topic: string; key: string }[];
  rules: { name: string; kind: string; field?: string; check: string; state?: string }[];
  outputs: { topic: string; schema: string }[];
  lineage: { from: string; via: string[]; to: string }[];
}

export function describeTopology(def: TopologyDefinition): TopologyGraph {
  const lineage =
    def.lineage ??
    def.sources.flatMap((s) => def.outputs.map((o) => ({ from: s.topic, via: ['pipeline'], to: o.topic })));
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
      ...(r.dedupe ? { state: dedupeChangelogTopic(def.name, r.name) } : {}),
    })),
    outputs: def.outputs.map((o) => ({ topic: o.topic, schema: o.schema })),
    // Every source also feeds its DLQ: decode and rule failures leave the pipeline there.
    lineage: [
      ...lineage,
      ...def.sources.map((s) => ({ from: s.topic, via: ['decode/validate failures'], to: dlqTopicOf(s) })),
    ],
  };
}

export function graphAsText(g: TopologyGraph): string {
  const lines = [`topology ${g.name}${g.description ? ` — ${g.description}` : ''}`];
  lines.push('  sources:', ...g.sources.map((s) => `    ${s.topic} (schema ${s.schema}, dlq ${s.dlq})`));
  if (g.references.length)
    lines.push('  reference tables:', ...g.references.map((r) => `    ${r.name} ← ${r.topic} by ${r.key}`));
  if (g.rules.length)
    lines.push(
      '  rules:',
      ...g.rules.map(
        (r) =>
          `    ${r.name} [${r.kind}] ${r.check}${r.state ? ` — state ${r.state}, co-partitioned with the source: a duplicate is found only in the partition of its original (key the topic by the id, or repartition by it)` : ''}`,
      ),
    );
  lines.push('  outputs:', ...g.outputs.map((o) => `    ${o.topic} (schema ${o.schema})`));
  lines.push('  lineage:', ...g.lineage.map((l) => `    ${l.from} → ${l.via.join(' → ')} → ${l.to}`));
  return lines.join('\n');
}

export function graphAsMermaid(graphs: TopologyGraph[]): string {
  const id = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_');
  const lines = ['flowchart LR'];
  const topics = new Set<string>();
  for (const g of graphs) {
    lines.push(`  subgraph ${id(`topology_${g.name}`)}["topology ${g.name}"]`);
    g.lineage.forEach((l, i) =>
      lines.push(`    ${id(`${g.name}_op${i}`)}["${l.via.join(' → ').replaceAll('"', "'")}"]`),
    );
    lines.push('  end');
    g.lineage.forEach((l, i) => {
      topics.add(l.from);
      topics.add(l.to);
      lines.push(`  ${id(`t_${l.from}`)} --> ${id(`${g.name}_op${i}`)} --> ${id(`t_${l.to}`)}`);
    });
    for (const r of g.references) {
      topics.add(r.topic);
      lines.push(`  ${id(`t_${r.topic}`)} -. table ${r.name} .-> ${id(`topology_${g.name}`)}`);
    }
  }
  for (const t of topics) lines.push(`  ${id(`t_${t}`)}[("${t}")]`);
  return lines.join('\n');
}
