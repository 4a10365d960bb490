import type { MonoTypeOperatorFunction, Observable, OperatorFunction } from 'rxjs';
import type { WindowSpec } from '../windows/windowSpec.ts';
import type { RecordCoordinates } from '../core/errors.ts';

/** A record as it came off a source topic: coordinates, key, the original value bytes, headers. */
export interface SourceRecord extends RecordCoordinates {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** Kafka record timestamp (ms). */
  timestamp: number;
}

/**
 * Reference-counted acknowledgement of one input record. The engine holds one reference while
 * the record passes synchronously through the pipeline; every output derived from it holds
 * another until it is durable. When the count reaches zero the record's offset may be committed.
 */
export interface Ack {
  retain(): void;
  release(): void;
  /** The processing failed in a way that must not be committed (the runner restarts from the last commit). */
  fail(err: unknown): void;
}

/** What flows through a pipeline: a value with its key, its source record and its ack. */
export interface Envelope<T = unknown> {
  value: T;
  key: string | null;
  source: SourceRecord;
  ack: Ack;
  /** Set by `decode`: the writer schema id. */
  schemaId?: number;
}

export type DlqReason = 'deserialize' | 'schema' | 'rule' | 'processing' | 'sink';

/**
 * What an output is: a record for an output topic, a dead letter, a late record, a state
 * changelog record, a record for a repartition topic (JSON, read back by the same topology), or
 * a record for a sink connector (S3, the warehouse).
 */
export type OutputKind = 'topic' | 'dlq' | 'late' | 'changelog' | 'repartition' | 'sink';

/** Anything the engine must make durable: a record for an output topic (or another sink). */
export interface Output {
  /** Absent: `topic`. */
  kind?: OutputKind;
  /** Dead letters: why. */
  reason?: DlqReason;
  topic: string;
  key: string | Buffer | null;
  /** Encoded with the schema registered for `schemaSubjectTopic` unless `raw` is set. */
  value: unknown;
  raw?: boolean;
  schemaSubjectTopic?: string;
  headers?: Record<string, string>;
  /** The inputs this output derives from; none for outputs derived from durable state. */
  acks: Ack[];
  timestamp?: number;
  /** The input record it derives from (S3 object names and warehouse offsets use its coordinates). */
  source?: SourceRecord;
  /** An explicit partition (changelogs are co-partitioned with their input); else by key. */
  partition?: number;
  /**
   * Outputs derived from state rather than from one input (window results, checkpoints): the
   * input partition (`topic/partition`) whose state they come from. With exactly-once they commit
   * in that partition's transaction.
   */
  txn?: string;
}

/**
 * A non-Kafka sink (S3, warehouse). Lifecycle: the factory does no I/O; `connect` is
 * idempotent; `add` must not block and releases each output's acks only once the output is
 * durable (that is what lets the runner commit); `close` flushes within the deadline.
 */
export interface SinkConnector {
  readonly name: string;
  connect(): Promise<void>;
  add(output: Output): void;
  flush(): Promise<void>;
  close(deadlineMs: number): Promise<void>;
  /**
   * Exactly-once sinks that store consumed offsets with the data (the warehouse) return them:
   * on assignment the runner seeks each partition there instead of the group's commit.
   */
  storedOffsets?(topic: string): Promise<Map<number, string>>;
  /**
   * How much of one partition the sink holds before any of it becomes durable (an object, a
   * flush): the runner lets at least twice that be in flight, or a partition would wait for room
   * the sink only makes when its batch is full.
   */
  readonly holds?: { records: number; bytes: number };
}

export interface SinkContext {
  topology: string;
  /** The runner's validated configuration (connections, credentials); absent in unit tests. */
  config?: import('../config/config.ts').Config;
  /** Writer schema of an output (by schema name), for sinks that encode (Avro container files, table DDL). */
  schemaFor(schemaName: string): import('avsc').Type;
  /** Registry ids by schema name (for Avro container metadata and wire-format writes). */
  schemaIds: Map<string, number>;
  /**
   * Hands over a record this sink can never take (Kafka Connect's errors.tolerance=all): the
   * runner sends its source record to `<source>.dlq` with reason `sink`, the sink's name and the
   * error in headers, and takes over the output's acks (released once the dead letter is
   * durable). The sink must not release those acks itself. With SLUICE_SINK_ERRORS=fail the
   * runner stops instead. Absent (unit tests without a runner): the sink fails the batch.
   */
  deadLetter?(output: Output, error: SinkRecordError): void;
}

/** Why a sink refused one record: shown in the dead letter's headers. */
export interface SinkRecordError {
  /** The sink's name (`warehouse`, `s3-lake`, ...). */
  sink: string;
  /**
   * What went wrong, from the database's or S3's own message — never the value itself: the
   * runner logs it and writes it into the dead letter's headers (values may be personal data).
   */
  message: string;
  /** The server's error code (SQLSTATE, S3 error code), when there is one. */
  code?: string;
}

export type SinkFactory = (ctx: SinkContext) => SinkConnector;

/** A named data-quality rule: returns undefined when the value passes, else what is wrong. */
export interface Rule<T = any> {
  name: string;
  kind: 'not_null' | 'in_set' | 'range' | 'regex' | 'unique' | 'referential' | 'custom';
  field?: string;
  check(value: T, ctx: RuleContext): string | undefined;
  describe(): string;
  /** `unique` rules: the engine checks them against its durable dedupe store (engine/dedupeStore.ts). */
  dedupe?: {
    windowMs: number;
    eventTime?: (value: T) => number;
    /** Names the changelog instead of the rule (`renameTopology` gives each run its own). */
    store?: string;
  };
  /** `unique` rules: the id of a value (undefined: nothing to deduplicate). */
  key?(value: T): string | undefined;
}

export interface RuleContext {
  /** Virtual or wall clock, ms. */
  now(): number;
  table(name: string): ReferenceTable;
  /** Per-rule state (dedupe windows); lives as long as the topology instance. */
  state<S>(rule: string, init: () => S): S;
}

export interface ReferenceTable {
  has(key: string): boolean;
  get(key: string): unknown;
  readonly size: number;
}

export interface SourceSpec {
  topic: string;
  /** The schemas/<name>.avsc used to read it (and register it); defaults to the topic. */
  schema?: string;
  /** DLQ topic for this source; defaults to `<topic>.dlq`. */
  dlq?: string;
}

export interface ReferenceSpec {
  /** Topic read in full into a table keyed by `key` (the field of the decoded value). */
  topic: string;
  key: string;
}

export interface OutputSpec {
  /** A Kafka topic, or the name of a sink output when `sink` is set (e.g. `lake.raw`). */
  topic: string;
  /** The schemas/<name>.avsc the records are written with. */
  schema: string;
  compacted?: boolean;
  /** When set, outputs go to this connector instead of a Kafka topic. */
  sink?: SinkFactory;
  /** Outputs carry the record as it came in (raw bytes), not a re-encoded value. */
  raw?: boolean;
}

/**
 * The operators a pipeline is built from, bound to the runtime (Kafka or the test driver). One
 * file each under src/operators/; each records itself in the topology graph when applied, so
 * `sluice describe` shows what the pipeline builds. Build streams with these (and `merge`,
 * `share`, `step` for plain RxJS): a stream made with plain RxJS operators between them shows as
 * an untraced step in the graph.
 */
export interface Operators {
  /** Avro decode through the registry; failures leave as DLQ records (`deserialize`, `schema`). */
  decode<T = Record<string, unknown>>(): OperatorFunction<Envelope<Buffer | null>, Envelope<T>>;
  /** Runs the named rules; the first failure sends the record to the DLQ (`rule`). */
  validate<T>(rules: string[]): OperatorFunction<Envelope<T>, Envelope<T>>;
  /** Maps the value, keeping key, source and ack; a throw sends the record to the DLQ (`processing`). */
  mapValue<T, R>(fn: (value: T, env: Envelope<T>) => R, name?: string): OperatorFunction<Envelope<T>, Envelope<R>>;
  /** One value in, any number out, each copy holding the input's ack; a throw sends it to the DLQ. */
  flatMapValues<T, R>(fn: (value: T) => R[], name?: string): OperatorFunction<Envelope<T>, Envelope<R>>;
  /** Keeps records whose predicate holds; the others are acknowledged at once. */
  filterValue<T>(fn: (value: T) => boolean, name?: string): OperatorFunction<Envelope<T>, Envelope<T>>;
  /** Joins each value with the reference table entry under `keyOf(value)` (undefined if none). */
  enrich<T, R>(
    table: string,
    keyOf: (value: T) => string | null | undefined,
    join: (value: T, ref: any) => R,
  ): OperatorFunction<Envelope<T>, Envelope<R>>;
  /**
   * Masks the fields marked `"sluice.pii"` by the zone's policy (see src/operators/maskPii.ts):
   * after `validate`, before `keyBy`.
   */
  maskPii<T>(
    zone: import('../pii/piiPolicy.ts').PiiZone,
    opts?: { schema?: string },
  ): OperatorFunction<Envelope<T>, Envelope<T>>;
  /** Re-keys the record (the output key). */
  keyBy<T>(fn: (value: T) => string | null, name?: string): OperatorFunction<Envelope<T>, Envelope<T>>;
  /** Writes to an output declared in `outputs` (a topic or a sink); the stream ends here. */
  toTopic<T>(topic: string): OperatorFunction<Envelope<T>, Output>;
  /**
   * Re-keys records through an internal topic (declared in outputs with `raw: true`), so that
   * every record of one group key is aggregated in one place whichever runner owns it. Values
   * travel as JSON with the upstream partition's watermark in a header.
   */
  repartition<T>(
    topic: string,
    opts: { key(value: T): string; eventTime(value: T): number; outOfOrdernessMs?: number },
  ): OperatorFunction<Envelope<T>, Output>;
  /** Parses JSON values (records read back from a repartition topic). */
  fromJson<T>(): OperatorFunction<Envelope<Buffer | null>, Envelope<T>>;
  /** A keyed event-time window aggregation with durable state; results go to `spec.output`. */
  window<T, A, R>(spec: WindowSpec<T, A, R>): OperatorFunction<Envelope<T>, Output>;
  /** Any RxJS operator as a named step of the graph; it must keep each envelope's ack. */
  step<T, R>(
    name: string,
    operator: OperatorFunction<Envelope<T>, Envelope<R>>,
  ): OperatorFunction<Envelope<T>, Envelope<R>>;
  /** RxJS `merge`, traced: the merged stream comes from all of them. */
  merge<T>(...streams: Observable<T>[]): Observable<T>;
  /** RxJS `share`, traced: one upstream subscription feeding several branches. */
  share<T>(): MonoTypeOperatorFunction<T>;
}

export interface PipelineInput {
  /** One stream per source topic, of raw records. */
  sources: Record<string, Observable<Envelope<Buffer | null>>>;
  ops: Operators;
}

/** Who answers for a topology and the topics and tables it writes (`sluice catalog` shows it). */
export interface TopologyOwner {
  /** The team, e.g. `commerce-data`. */
  team: string;
  /** Where to reach it: a channel, an address, a rota. */
  contact?: string;
}

export interface TopologyDefinition {
  name: string;
  description?: string;
  owner?: TopologyOwner;
  sources: SourceSpec[];
  references?: Record<string, ReferenceSpec>;
  rules?: Rule[];
  outputs: OutputSpec[];
  /** Builds the RxJS graph; called by the engine at start, never at import. */
  pipeline(input: PipelineInput): Observable<Output>;
}
