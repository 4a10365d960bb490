import { defineTopology } from '../topology/defineTopology.ts';
import type { Operators, TopologyDefinition } from '../topology/types.ts';

/**
 * The same topology on prefixed topics (`<prefix>.oltp.customers`, ...), schemas unchanged.
 * Integration tests use it to run real topologies on topics no other test touches.
 */
export function prefixTopology(def: TopologyDefinition, prefix: string): TopologyDefinition {
  return renameTopology(def, (t) => `${prefix}.${t}`, prefix);
}

/**
 * The same topology with every topic renamed by `p` and its state stores prefixed by
 * `storePrefix`, schemas unchanged. Benchmarks use it to keep the feed's `metrics.<name>`
 * convention on topics of their own: `metrics.x` → `metrics.<run>_x`, the rest prefixed.
 */
export function renameTopology(def: TopologyDefinition, p: (topic: string) => string, storePrefix: string) {
  const prefix = storePrefix;
  return defineTopology({
    ...def,
    sources: def.sources.map((s) => ({
      ...s,
      topic: p(s.topic),
      schema: s.schema ?? s.topic,
      dlq: s.dlq ? p(s.dlq) : undefined,
    })),
    references:
      def.references &&
      Object.fromEntries(Object.entries(def.references).map(([n, r]) => [n, { ...r, topic: p(r.topic) }])),
    outputs: def.outputs.map((o) => ({ ...o, topic: p(o.topic) })),
    // Dedupe state too: a run that restored another run's ids would dead-letter all its records.
    rules: def.rules?.map((r) =>
      r.dedupe ? { ...r, dedupe: { ...r.dedupe, store: `${prefix}.${r.dedupe.store ?? r.name}` } } : r,
    ),
    pipeline: ({ sources, ops }) =>
      def.pipeline({
        sources: Object.fromEntries(def.sources.map((s) => [s.topic, sources[p(s.topic)]])),
        ops: {
          ...ops,
          toTopic: (topic: string) => ops.toTopic(p(topic)),
          repartition: (topic: string, o: Parameters<Operators['repartition']>[1]) => ops.repartition(p(topic), o),
          // State stores and late records get their own prefixed topics too.
          window: (spec: Parameters<Operators['window']>[0]) =>
            ops.window({
              ...spec,
              store: `${prefix}.${spec.store}`,
              output: p(spec.output),
              inputTopic: spec.inputTopic && p(spec.inputTopic),
              lateTopic: p(spec.lateTopic ?? `${def.name}.late`),
            }),
        } as Operators,
      }),
  });
}
