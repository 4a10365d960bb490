import { describeTopology } from '../engine/describeTopology.ts';
import { dlqTopicOf } from '../topology/defineTopology.ts';
import type { TopologyDefinition } from '../topology/types.ts';
import { VALID_EXPECTATION } from './qualityThresholds.ts';

/** One expectation of a suite as declared: a rule of a validate step, or `valid` (decode). */
export interface DeclaredExpectation {
  rule: string;
  /** `valid`, or the rule's kind (not_null, in_set, range, regex, unique, referential, custom). */
  kind: string;
  /** What it checks, in words (the rule's describe()). */
  check: string;
}

/** A suite: one topology's source topic with the expectations its records meet, in pipeline order. */
export interface DeclaredSuite {
  topology: string;
  topic: string;
  dlq: string;
  expectations: DeclaredExpectation[];
}

/**
 * The suites the topologies declare, derived from the graph their pipelines build (as `sluice
 * describe` shows it): a source topic gets `valid` when a `decode` step reads it, and each rule of
 * every `validate` step on a path from it. A source no step checks has no suite.
 *
 * @example
 *   declaredSuites([orders]);
 *   // [{ topology: 'orders', topic: 'oltp.orders', expectations: [valid, order_amount_non_negative, ...] }, ...]
 */
export function declaredSuites(topologies: readonly TopologyDefinition[]): DeclaredSuite[] {
  const suites: DeclaredSuite[] = [];
  for (const def of topologies) {
    const d = describeTopology(def);
    const rules = new Map((def.rules ?? []).map((r) => [r.name, r]));
    for (const source of def.sources) {
      const names: string[] = [];
      for (const l of d.lineage.filter((x) => x.from === source.topic))
        for (const step of l.via) {
          if (step === 'decode') names.push(VALID_EXPECTATION);
          // The label is `validate(a, b→<table topic>)`: each rule's name, a referential one with its table.
          else if (step.startsWith('validate(') && step.endsWith(')'))
            names.push(
              ...step
                .slice('validate('.length, -1)
                .split(', ')
                .map((r) => r.split('→')[0]),
            );
        }
      const expectations = [...new Set(names)].map((rule): DeclaredExpectation => {
        const r = rules.get(rule);
        if (rule === VALID_EXPECTATION || !r)
          return { rule, kind: VALID_EXPECTATION, check: `decodes as Avro of ${source.schema ?? source.topic}` };
        return { rule, kind: r.kind, check: r.describe() };
      });
      if (expectations.length)
        suites.push({ topology: def.name, topic: source.topic, dlq: dlqTopicOf(source), expectations });
    }
  }
  return suites;
}
