import { Subject } from 'rxjs';
import type avro from 'avsc';
import { SluiceError } from '../core/errors.ts';
import { loadType } from '../domain/schemas.ts';
import { bindOperators } from '../operators/bindOperators.ts';
import { type OperatorContext, type OperatorMetrics, tableOf } from '../operators/operatorContext.ts';
import type { PiiMasking } from '../pii/piiMasking.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import { dlqTopicOf } from '../topology/defineTopology.ts';
import { GraphBuilder, type GraphData } from '../topology/graph.ts';
import type {
  Ack,
  Envelope,
  Output,
  ReferenceTable,
  Rule,
  RuleContext,
  SourceRecord,
  TopologyDefinition,
} from '../topology/types.ts';
import { deadLetterOutput } from './deadLetter.ts';
import { StateStores, type StoreInfo } from './stateStores.ts';
import type { TickKind } from '../windows/windowOperator.ts';

export type { StoreInfo } from './stateStores.ts';

/**
 * One running copy of a topology: the RxJS graph built from its definition, with operators
 * bound to the runtime (the Kafka runner or the in-memory test driver). Records are pushed in
 * synchronously; every output reaches `route` synchronously with its input acks retained.
 */
export interface InstanceDeps {
  /** Absent when the topology is only built to be described. */
  serde?: AvroSerde;
  tables: Record<string, ReferenceTable>;
  now(): number;
  /** Hands an output to its sink; the sink releases `output.acks` once it is durable. */
  route(output: Output): void;
  /** The pipeline itself broke (a bug, not a bad record): the runner must stop or restart. */
  onFatal(err: unknown): void;
  metrics?: OperatorMetrics;
  /** The PII policies `maskPii` applies (absent: it redacts). */
  pii?: PiiMasking;
}

export interface TopologyInstance {
  push(record: SourceRecord, ack: Ack): void;
  /** Time passes: windows flush state, emit provisional and final results (see WindowOperator.tick). */
  tick(kind?: TickKind): void;
  /** Provisional window results held back by coalescing whose time has come (see WindowOperator.emitDue). */
  emitDue(): void;
  /** The state stores (windows, dedupe): their changelog topics, for creation and restore. */
  stores(): StoreInfo[];
  restore(changelog: string, partition: number, key: string, value: Buffer | null): void;
  /** Drops a store's state before it is restored for a new assignment (see WindowOperator.reset). */
  resetStore(changelog: string): void;
  /** The graph the pipeline built: sources, operators, outputs, DLQs, tables, stores. */
  graph(): GraphData;
  stop(): void;
}

export function startTopology(def: TopologyDefinition, deps: InstanceDeps): TopologyInstance {
  const ctx = operatorContext(def, deps);
  const readers = new Map<string, avro.Type>(def.sources.map((s) => [s.topic, loadType(s.schema ?? s.topic)]));
  const subjects = new Map(def.sources.map((s) => [s.topic, new Subject<Envelope<Buffer | null>>()]));
  const sources = Object.fromEntries([...subjects].map(([t, s]) => [t, ctx.graph.source(t, s.asObservable())]));
  const subscription = def.pipeline({ sources, ops: bindOperators(ctx, readers) }).subscribe({
    next: (o) => ctx.emit(o),
    error: (err) => deps.onFatal(err),
  });

  return {
    push(record, ack) {
      const subject = subjects.get(record.topic);
      if (!subject) throw new SluiceError('INTERNAL', `topology ${def.name} has no source ${record.topic}`);
      ctx.stores.observeUpstream(record, deps.now());
      try {
        subject.next({ value: record.value, key: record.key?.toString('utf8') ?? null, source: record, ack });
      } finally {
        ack.release(); // the engine's own reference: a record nobody kept is done now
      }
    },
    tick: (kind = 'full') => ctx.stores.tick(kind),
    emitDue: () => ctx.stores.emitDue(),
    stores: () => ctx.stores.list(),
    restore: (changelog, partition, key, value) => ctx.stores.restore(changelog, partition, key, value),
    resetStore: (changelog) => ctx.stores.reset(changelog),
    graph: () => ctx.graph.data(),
    stop() {
      for (const s of subjects.values()) s.complete();
      subscription.unsubscribe();
    },
  };
}

/** The context every operator of this instance shares (see src/operators/operatorContext.ts). */
function operatorContext(def: TopologyDefinition, deps: InstanceDeps): OperatorContext {
  const sourceByTopic = new Map(def.sources.map((s) => [s.topic, s]));
  const rules = new Map<string, Rule>((def.rules ?? []).map((r) => [r.name, r]));
  const outputs = new Map(def.outputs.map((o) => [o.topic, o]));
  const dlqOf = (topic: string) => dlqTopicOf(sourceByTopic.get(topic) ?? { topic });
  const invalid = (what: string) => new SluiceError('CONFIG_INVALID', `topology ${def.name}: ${what}`);
  const emit = (output: Output) => {
    for (const a of output.acks) a.retain();
    deps.route(output);
  };
  const ruleState = new Map<string, unknown>();
  const ruleCtx: RuleContext = {
    now: deps.now,
    table: (name) => tableOf(deps.tables, def.name, name),
    state<S>(rule: string, init: () => S): S {
      if (!ruleState.has(rule)) ruleState.set(rule, init());
      return ruleState.get(rule) as S;
    },
  };
  return {
    topology: def.name,
    serde: deps.serde,
    now: deps.now,
    emit,
    deadLetter(env, reason, message, extra = {}) {
      const dlqTopic = dlqOf(env.source.topic);
      emit(
        deadLetterOutput({
          ...extra,
          source: env.source,
          dlqTopic,
          topology: def.name,
          reason,
          message,
          now: deps.now(),
          acks: [env.ack],
        }),
      );
    },
    metrics: deps.metrics ?? {},
    rules: ruleCtx,
    graph: new GraphBuilder(dlqOf),
    stores: new StateStores(def.name, emit),
    rule(name) {
      const r = rules.get(name);
      if (!r) throw invalid(`validate() names unknown rule "${name}"`);
      return r;
    },
    output(topic, usedBy) {
      const o = outputs.get(topic);
      if (!o) throw invalid(`${usedBy} writes to ${topic}, which is not declared in outputs`);
      return o;
    },
    tableTopic(name) {
      const r = def.references?.[name];
      if (!r) throw invalid(`reference table ${name} is not declared in references`);
      return r.topic;
    },
    sourceSchema: (topic) => sourceByTopic.get(topic)?.schema ?? topic,
    pii: deps.pii,
  };
}
