import { Subject, filter, map, mergeMap, EMPTY, of, type Observable, type OperatorFunction } from 'rxjs';
import type avro from 'avsc';
import { SluiceError, isSluiceError } from '../core/errors.ts';
import { loadType } from '../domain/schemas.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import { dlqTopicOf } from '../topology/defineTopology.ts';
import type {
  Ack,
  DlqReason,
  Envelope,
  Operators,
  Output,
  ReferenceTable,
  Rule,
  RuleContext,
  SourceRecord,
  TopologyDefinition,
} from '../topology/types.ts';
import { dlqHeaders, withoutErrorHeaders } from './dlqHeaders.ts';
import { createWindowOperator, type WindowOperator, type WindowSpec } from '../windows/windowOperator.ts';
import { createDedupeStore, type DedupeStore } from './dedupeStore.ts';
import type { WatermarkTracker } from '../windows/watermarks.ts';

/**
 * One running copy of a topology: the RxJS graph built from its definition, with operators
 * bound to the runtime (the Kafka runner or the in-memory test driver). Records are pushed in
 * synchronously; every output reaches `route` synchronously with its input acks retained.
 */
export interface InstanceDeps {
  serde: AvroSerde;
  tables: Record<string, ReferenceTable>;
  now(): number;
  /** Hands an output to its sink; the sink releases `output.acks` once it is durable. */
  route(output: Output): void;
  /** The pipeline itself broke (a bug, not a bad record): the runner must stop or restart. */
  onFatal(err: unknown): void;
  onRuleFailure?(rule: string): void;
  onLate?(store: string): void;
  onWindowsOpen?(store: string, open: number): void;
  onEmitDelay?(store: string, seconds: number): void;
}

export interface StoreInfo {
  kind: 'window' | 'dedupe';
  store: string;
  changelog: string;
  /** The topic whose partitions are the store's partitions; absent: any source topic. */
  inputTopic?: string;
  lateTopic?: string;
  /** Extra changelog topic configuration (retention of dedupe ids). */
  config?: Record<string, string>;
}

export interface TopologyInstance {
  push(record: SourceRecord, ack: Ack): void;
  /** Time passes: windows flush state, emit provisional and final results (see WindowOperator.tick). */
  tick(full?: boolean): void;
  /** The state stores (windows, dedupe): their changelog topics, for creation and restore. */
  stores(): StoreInfo[];
  restore(changelog: string, partition: number, key: string, value: Buffer | null): void;
  /** Drops a store's state before it is restored for a new assignment (see WindowOperator.reset). */
  resetStore(changelog: string): void;
  stop(): void;
}

/** Which SERDE error codes mean "does not match its schema" rather than "cannot be decoded". */
const SCHEMA_CODES = new Set(['SERDE_UNKNOWN_SCHEMA', 'SERDE_SCHEMA_MISMATCH']);

export function startTopology(def: TopologyDefinition, deps: InstanceDeps): TopologyInstance {
  const sourceByTopic = new Map(def.sources.map((s) => [s.topic, s]));
  const readers = new Map<string, avro.Type>(def.sources.map((s) => [s.topic, loadType(s.schema ?? s.topic)]));
  const rules = new Map<string, Rule>((def.rules ?? []).map((r) => [r.name, r]));
  const outputs = new Map(def.outputs.map((o) => [o.topic, o]));
  const ruleState = new Map<string, unknown>();

  const ruleCtx: RuleContext = {
    now: deps.now,
    table(name) {
      const t = deps.tables[name];
      if (!t) throw new SluiceError('CONFIG_INVALID', `topology ${def.name}: reference table ${name} is not available`);
      return t;
    },
    state<S>(rule: string, init: () => S): S {
      if (!ruleState.has(rule)) ruleState.set(rule, init());
      return ruleState.get(rule) as S;
    },
  };

  function emit(output: Output): void {
    for (const a of output.acks) a.retain();
    deps.route(output);
  }

  function toDlq(env: Envelope<unknown>, reason: DlqReason, message: string, rule?: string, schemaId?: number): void {
    const spec = sourceByTopic.get(env.source.topic);
    emit({
      topic: dlqTopicOf(spec ?? { topic: env.source.topic }),
      key: env.source.key,
      value: env.source.value, // the ORIGINAL bytes, untouched
      raw: true,
      // The record's own headers travel with it (tracing ids, producers' metadata); the error
      // headers of an earlier failure are replaced by this one's.
      headers: {
        ...withoutErrorHeaders(env.source.headers),
        ...dlqHeaders({ source: env.source, topology: def.name, reason, rule, message, schemaId, now: deps.now() }),
      },
      acks: [env.ack],
      timestamp: env.source.timestamp,
      source: env.source,
    });
  }

  const windows: WindowOperator<any>[] = [];
  const dedupes = new Map<string, DedupeStore>();
  const dedupeStore = (rule: Rule & { dedupe: NonNullable<Rule['dedupe']> }) => {
    let d = dedupes.get(rule.name);
    if (!d) {
      d = createDedupeStore(def.name, rule, emit);
      dedupes.set(rule.name, d);
    }
    return d;
  };
  const trackers = new Map<string, WatermarkTracker>();
  const trackerFor = (topic: string, create: () => WatermarkTracker) => {
    let t = trackers.get(topic);
    if (!t) {
      t = create();
      trackers.set(topic, t);
    }
    return t;
  };
  const repartitionWm = new Map<string, number>();
  const ops: Operators = {
    decode<T>() {
      return mergeMap((env: Envelope<Buffer | null>): Observable<Envelope<T>> => {
        try {
          const { value, schemaId } = deps.serde.decodeSync(
            env.source.value,
            env.source,
            readers.get(env.source.topic),
          );
          return of({ ...env, value: value as T, schemaId });
        } catch (err) {
          if (!isSluiceError(err) || !err.shortCode.startsWith('SERDE_')) throw err;
          toDlq(
            env,
            SCHEMA_CODES.has(err.shortCode) ? 'schema' : 'deserialize',
            `${err.code}: ${err.message}`,
            undefined,
            err.details?.schemaId as number | undefined,
          );
          return EMPTY;
        }
      });
    },
    validate<T>(names: string[]) {
      const selected = names.map((n) => {
        const r = rules.get(n);
        if (!r) throw new SluiceError('CONFIG_INVALID', `topology ${def.name}: validate() names unknown rule "${n}"`);
        return {
          rule: r,
          dedupe: r.dedupe ? dedupeStore(r as Rule & { dedupe: NonNullable<Rule['dedupe']> }) : undefined,
        };
      });
      return filter((env: Envelope<T>) => {
        // Dedupe ids are recorded only once the record passed every rule of this step.
        let accepted: [DedupeStore, string][] | undefined;
        for (const { rule, dedupe } of selected) {
          let problem: string | undefined;
          try {
            if (dedupe) {
              const id = rule.key!(env.value);
              problem = id === undefined ? undefined : dedupe.check(env, id);
              if (id !== undefined && problem === undefined) (accepted ??= []).push([dedupe, id]);
            } else problem = rule.check(env.value, ruleCtx);
          } catch (err) {
            problem = `rule threw: ${(err as Error).message}`;
          }
          if (problem !== undefined) {
            deps.onRuleFailure?.(rule.name);
            toDlq(env, 'rule', problem, rule.name, env.schemaId);
            return false;
          }
        }
        if (accepted) for (const [store, id] of accepted) store.accept(env, id);
        return true;
      });
    },
    mapValue<T, R>(fn: (value: T, env: Envelope<T>) => R) {
      return mergeMap((env: Envelope<T>): Observable<Envelope<R>> => {
        try {
          return of({ ...env, value: fn(env.value, env) } as Envelope<R>);
        } catch (err) {
          toDlq(env, 'processing', (err as Error)?.message ?? String(err), undefined, env.schemaId);
          return EMPTY;
        }
      });
    },
    filterValue<T>(fn: (value: T) => boolean) {
      return filter((env: Envelope<T>) => fn(env.value));
    },
    enrich<T, R>(table: string, keyOf: (value: T) => string | null | undefined, join: (value: T, ref: any) => R) {
      return map((env: Envelope<T>): Envelope<R> => {
        const k = keyOf(env.value);
        const ref = k === null || k === undefined ? undefined : ruleCtx.table(table).get(String(k));
        return { ...env, value: join(env.value, ref) } as Envelope<R>;
      });
    },
    keyBy<T>(fn: (value: T) => string | null) {
      return map((env: Envelope<T>) => ({ ...env, key: fn(env.value) }));
    },
    toTopic<T>(topic: string): OperatorFunction<Envelope<T>, Output> {
      const spec = outputs.get(topic);
      if (!spec)
        throw new SluiceError('CONFIG_INVALID', `topology ${def.name}: toTopic("${topic}") is not declared in outputs`);
      if (spec.raw) {
        return map(
          (env: Envelope<T>): Output => ({
            topic,
            key: env.source.key,
            value: env.source.value,
            raw: true,
            headers: env.source.headers,
            acks: [env.ack],
            timestamp: env.source.timestamp,
            source: env.source,
          }),
        );
      }
      const type = loadType(spec.schema);
      // Checked here, not at the producer: a value the output schema refuses is this record's
      // processing failure (DLQ), not a reason to stop the runner.
      return mergeMap((env: Envelope<T>): Observable<Output> => {
        const bad: string[] = [];
        if (!type.isValid(env.value, { errorHook: (path) => bad.push(path.join('.') || '(root)') })) {
          toDlq(
            env,
            'processing',
            `output for ${topic} does not match schema ${spec.schema} at ${bad.slice(0, 5).join(', ')}`,
            undefined,
            env.schemaId,
          );
          return EMPTY;
        }
        return of({
          topic,
          key: env.key,
          value: env.value,
          schemaSubjectTopic: spec.schema,
          acks: [env.ack],
          timestamp: env.source.timestamp,
          source: env.source,
        });
      });
    },
    repartition<T>(
      topic: string,
      o: { key(value: T): string; eventTime(value: T): number; outOfOrdernessMs?: number },
    ) {
      if (!outputs.has(topic))
        throw new SluiceError(
          'CONFIG_INVALID',
          `topology ${def.name}: repartition("${topic}") is not declared in outputs`,
        );
      const lag = o.outOfOrdernessMs ?? 5000;
      let lastSrc = '';
      let lastOffset = '';
      let seq = 0;
      return map((env: Envelope<T>): Output => {
        const src = `${env.source.topic}/${env.source.partition}`;
        const ts = o.eventTime(env.value);
        // Copies fanned out from one input are numbered, so downstream can tell a re-sent copy
        // (stage 1 replaying after a crash) from a new one: (source offset, seq) only grows.
        seq = src === lastSrc && env.source.offset === lastOffset ? seq + 1 : 0;
        lastSrc = src;
        lastOffset = env.source.offset;
        // This upstream partition's watermark before the record: downstream takes the minimum.
        const wm = Math.max(repartitionWm.get(src) ?? -Infinity, ts - lag);
        repartitionWm.set(src, wm);
        return {
          topic,
          key: o.key(env.value),
          value: Buffer.from(JSON.stringify(env.value)),
          raw: true,
          headers: {
            'sluice.src': src,
            'sluice.src.offset': env.source.offset,
            'sluice.src.seq': String(seq),
            'sluice.wm': String(wm),
            'sluice.ts': String(ts),
          },
          acks: [env.ack],
          timestamp: ts,
          source: env.source,
        };
      });
    },
    fromJson<T>() {
      return mergeMap((env: Envelope<Buffer | null>): Observable<Envelope<T>> => {
        try {
          return of({ ...env, value: JSON.parse(env.value!.toString('utf8')) as T });
        } catch (err) {
          toDlq(env, 'deserialize', `not JSON: ${(err as Error).message}`);
          return EMPTY;
        }
      });
    },
    window<T, A, R>(spec: WindowSpec<T, A, R>) {
      const out = outputs.get(spec.output);
      if (!out)
        throw new SluiceError(
          'CONFIG_INVALID',
          `topology ${def.name}: window store ${spec.store} writes to ${spec.output}, which is not declared in outputs`,
        );
      const op = createWindowOperator(spec, {
        topology: def.name,
        now: deps.now,
        emit,
        tracker: trackerFor,
        outputSchema: { name: out.schema, type: loadType(out.schema) },
        onLate: deps.onLate,
        onWindowsOpen: deps.onWindowsOpen,
        onEmitDelay: deps.onEmitDelay,
      });
      windows.push(op);
      return mergeMap((env: Envelope<T>): Observable<Output> => {
        op.push(env);
        return EMPTY;
      });
    },
  };

  const subjects = new Map(def.sources.map((s) => [s.topic, new Subject<Envelope<Buffer | null>>()]));
  const sources = Object.fromEntries([...subjects].map(([t, s]) => [t, s.asObservable()]));
  const subscription = def.pipeline({ sources, ops }).subscribe({
    next: emit,
    error: (err) => deps.onFatal(err),
  });

  return {
    push(record, ack) {
      const subject = subjects.get(record.topic);
      if (!subject) throw new SluiceError('INTERNAL', `topology ${def.name} has no source ${record.topic}`);
      // Event-time progress reported by an upstream stage counts for every window on this topic.
      const reported = record.headers['sluice.wm'];
      // Tracked per (partition here, upstream partition): partitions of the repartition topic are
      // consumed at different speeds, and one running ahead must not make the others' records late.
      if (reported !== undefined)
        trackers
          .get(record.topic)
          ?.observe(
            `${record.partition}|${record.headers['sluice.src'] ?? ''}`,
            Number(record.headers['sluice.ts'] ?? reported),
            deps.now(),
            Number(reported),
          );
      try {
        subject.next({ value: record.value, key: record.key?.toString('utf8') ?? null, source: record, ack });
      } finally {
        ack.release(); // the engine's own reference: a record nobody kept is done now
      }
    },
    tick(full = true) {
      for (const w of windows) w.tick(full);
    },
    stores() {
      return [
        ...windows.map(
          (w): StoreInfo => ({
            kind: 'window',
            store: w.store,
            changelog: w.changelog,
            inputTopic: w.inputTopic,
            lateTopic: w.lateTopic,
          }),
        ),
        ...[...dedupes.values()].map((d): StoreInfo => {
          // Ids outlive the window by a day in the log (compaction keeps one per id meanwhile).
          const retention = rules.get(d.rule)!.dedupe!.windowMs + 86_400_000;
          return {
            kind: 'dedupe',
            store: d.rule,
            changelog: d.changelog,
            config: { 'cleanup.policy': 'compact,delete', 'retention.ms': String(retention) },
          };
        }),
      ];
    },
    restore(changelog, partition, key, value) {
      for (const w of windows) if (w.changelog === changelog) w.restore(partition, key, value);
      for (const d of dedupes.values()) if (d.changelog === changelog) d.restore(partition, key, value);
    },
    resetStore(changelog) {
      for (const w of windows) if (w.changelog === changelog) w.reset();
      for (const d of dedupes.values()) if (d.changelog === changelog) d.reset();
    },
    stop() {
      for (const s of subjects.values()) s.complete();
      subscription.unsubscribe();
    },
  };
}
