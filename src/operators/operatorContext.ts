import { SluiceError } from '../core/errors.ts';
import type { PiiMasking } from '../pii/piiMasking.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import type { GraphBuilder } from '../topology/graph.ts';
import type { DlqReason, Envelope, Output, OutputSpec, ReferenceTable, Rule, RuleContext } from '../topology/types.ts';
import type { StateStores } from '../engine/stateStores.ts';
import type { QualityCounts } from '../quality/qualityCounts.ts';

/** Counters the operators report to; the runner binds them to Prometheus, tests to nothing. */
export interface OperatorMetrics {
  ruleFailure?(rule: string): void;
  late?(store: string): void;
  windowsOpen?(store: string, open: number): void;
  emitDelay?(store: string, seconds: number): void;
  /** A tombstone (keyed null value) on `topic` was skipped by decode (not dead-lettered). */
  tombstoneSkipped?(topic: string): void;
  /** Pass/fail counters of decode and validate steps (quality scores); absent: not counted. */
  quality?: QualityCounts;
}

/**
 * What every operator of one running topology shares: the serde, reference tables, the clock,
 * where outputs and dead letters go, metrics, the state stores, and the graph the operator
 * records itself in. Built once per topology instance (src/engine/topologyInstance.ts).
 */
export interface OperatorContext {
  readonly topology: string;
  /** Absent when the topology is only built to be described: no record flows then. */
  readonly serde?: AvroSerde;
  now(): number;
  /** Hands an output on; its acks are retained until it is durable. */
  emit(output: Output): void;
  /** Sends the record's original bytes to its source's DLQ with the reason in headers. */
  deadLetter(
    env: Envelope<unknown>,
    reason: DlqReason,
    message: string,
    extra?: { rule?: string; schemaId?: number },
  ): void;
  readonly metrics: OperatorMetrics;
  readonly rules: RuleContext;
  readonly graph: GraphBuilder;
  readonly stores: StateStores;
  /** A declared rule; unknown names fail when the pipeline is built. */
  rule(name: string): Rule;
  /** A declared output; undeclared topics fail when the pipeline is built. */
  output(topic: string, usedBy: string): OutputSpec;
  /** The topic a reference table is read from. */
  tableTopic(name: string): string;
  /** The schema (schemas/<name>.avsc) a source topic is read with. */
  sourceSchema(topic: string): string;
  /** The PII policies of this process (absent: `maskPii` redacts). */
  readonly pii?: PiiMasking;
}

/** The reference table `name` of a rule context, or a configuration error naming it. */
export function tableOf(tables: Record<string, ReferenceTable>, topology: string, name: string): ReferenceTable {
  const t = tables[name];
  if (!t) throw new SluiceError('CONFIG_INVALID', `topology ${topology}: reference table ${name} is not available`);
  return t;
}
