import { SluiceError } from '../core/errors.ts';
import { loadSchema } from '../domain/schemas.ts';
import { createAck } from '../engine/ack.ts';
import { MapReferenceTable, referenceKey } from '../engine/referenceTable.ts';
import { startTopology, type TopologyInstance } from '../engine/topologyInstance.ts';
import { createPiiMasking, type PiiMasking } from '../pii/piiMasking.ts';
import { DEFAULT_PII_POLICIES } from '../pii/piiPolicy.ts';
import { createAvroSerde, type AvroSerde } from '../serde/avroSerde.ts';
import type { Output, TopologyDefinition } from '../topology/types.ts';
import { createMemoryRegistry } from './memoryRegistry.ts';
import type { QualityCounts } from '../quality/qualityCounts.ts';

/**
 * Runs a real topology synchronously, in memory: real Avro encoding in the Confluent wire
 * format (schema ids from an in-process registry), a virtual clock, input and output topics as
 * arrays, reference tables fed from their topics. No broker. Outputs are "durable" the moment
 * they are appended, so every input's offset is acknowledged by the time `pipeInput` returns
 * unless the pipeline holds it (windows).
 *
 * @example
 *   const driver = await createTestDriver(customers, { now: Date.UTC(2026, 0, 1) });
 *   driver.pipeInput('oltp.customers', row, { key: '42' });
 *   assert.equal(driver.readOutput('silver.customers').length, 1);
 */
export interface DriverRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: unknown;
  rawValue: Buffer | null;
  headers: Record<string, string>;
  schemaId?: number;
}

export interface TestDriver {
  /** Encodes `value` with the topic's schema and feeds it to the topology (or its reference table). */
  pipeInput(
    topic: string,
    value: unknown,
    opts?: { key?: string | null; partition?: number; timestamp?: number; headers?: Record<string, string> },
  ): void;
  /** Feeds raw bytes as they would arrive from Kafka (malformed input, foreign schema ids). */
  pipeRaw(
    topic: string,
    value: Buffer | null,
    opts?: { key?: string | null; partition?: number; timestamp?: number; headers?: Record<string, string> },
  ): void;
  /** Encodes a value the way producers would (wire format + id); for crafting variants. */
  encode(topic: string, value: unknown): Buffer;
  readOutput(topic: string): DriverRecord[];
  outputTopics(): string[];
  advanceTime(ms: number): void;
  /**
   * Delivers an input again at its offset, as a runner does after a restart, a rewind or a
   * rebalance (from the committed offset on): the pipeline meets the same record a second time.
   */
  redeliver(topic: string, offset: number, partition?: number): void;
  now(): number;
  /** Offsets acknowledged per `topic/partition` (the next offset the runner would commit). */
  committed(topic: string, partition?: number): number;
  serde: AvroSerde;
  close(): void;
}

type FeedOptions = { key?: string | null; partition?: number; timestamp?: number; headers?: Record<string, string> };

/** The PII key of the test driver's default masking (the default policies: hash everywhere). */
export const TEST_PII_KEY = 'sluice-test-driver-pii-key';

export async function createTestDriver(
  def: TopologyDefinition,
  opts: { now?: number; maxMessageBytes?: number; quality?: QualityCounts; pii?: PiiMasking } = {},
): Promise<TestDriver> {
  const registry = createMemoryRegistry();
  const serde = createAvroSerde(registry, { maxMessageBytes: opts.maxMessageBytes ?? 1024 * 1024 });
  const ids = new Map<string, number>();
  const schemaTopics = new Set<string>([
    ...def.sources.map((s) => s.schema ?? s.topic),
    ...def.outputs.map((o) => o.schema),
    ...Object.values(def.references ?? {}).map((r) => r.topic),
  ]);
  for (const t of schemaTopics) ids.set(t, await registry.register(`${t}-value`, loadSchema(t)));
  await serde.prepareIds(ids.values());
  // Masked by default, as a runner is: the default policies with a fixed key.
  const pii = opts.pii ?? createPiiMasking(DEFAULT_PII_POLICIES, TEST_PII_KEY);
  return new InMemoryDriver(def, serde, ids, opts.now ?? Date.UTC(2026, 0, 1), opts.quality, pii);
}

class InMemoryDriver implements TestDriver {
  readonly serde: AvroSerde;
  private readonly def: TopologyDefinition;
  private readonly ids: Map<string, number>;
  private clock: number;
  private readonly tables: Record<string, MapReferenceTable> = {};
  private readonly topics = new Map<string, DriverRecord[]>();
  private readonly offsets = new Map<string, number>();
  /** What was fed at each offset, per `topic/partition`, for `redeliver`. */
  private readonly inputs = new Map<string, { raw: Buffer | null; o: FeedOptions }[]>();
  private readonly acked = new Map<string, number>();
  private readonly schemaOfSource: Map<string, string>;
  /** Records for topics the topology also reads (repartition topics): they loop back, as on Kafka. */
  private readonly loopback: DriverRecord[] = [];
  private draining = false;
  private instance?: TopologyInstance;
  private fatal: unknown;

  constructor(
    def: TopologyDefinition,
    serde: AvroSerde,
    ids: Map<string, number>,
    now: number,
    quality?: QualityCounts,
    pii?: PiiMasking,
  ) {
    this.def = def;
    this.serde = serde;
    this.ids = ids;
    this.clock = now;
    for (const name of Object.keys(def.references ?? {})) this.tables[name] = new MapReferenceTable();
    this.schemaOfSource = new Map(def.sources.map((s) => [s.topic, s.schema ?? s.topic]));
    this.instance = startTopology(def, {
      serde,
      tables: this.tables,
      now: () => this.clock,
      route: (output) => this.route(output),
      onFatal: (err) => {
        this.fatal = err;
      },
      metrics: quality ? { quality } : undefined,
      pii,
    });
  }

  encode(topic: string, value: unknown): Buffer {
    const id = this.ids.get(this.schemaOfSource.get(topic) ?? topic);
    if (id === undefined) throw new SluiceError('SCHEMA_NOT_FOUND', `topology ${this.def.name} does not read ${topic}`);
    return this.serde.encodeSync(id, value);
  }

  pipeInput(topic: string, value: unknown, o: FeedOptions = {}): void {
    this.feed(topic, this.encode(topic, value), o);
  }

  pipeRaw(topic: string, raw: Buffer | null, o: FeedOptions = {}): void {
    this.feed(topic, raw, o);
  }

  readOutput(topic: string): DriverRecord[] {
    return this.topics.get(topic) ?? [];
  }

  outputTopics(): string[] {
    return [...this.topics.keys()];
  }

  advanceTime(ms: number): void {
    this.clock += ms;
    this.instance?.tick();
    if (this.fatal) throw this.fatal;
    for (const r of this.loopback.splice(0)) this.feedBack(r);
  }

  now(): number {
    return this.clock;
  }

  committed(topic: string, partition = 0): number {
    return this.acked.get(`${topic}/${partition}`) ?? 0;
  }

  close(): void {
    this.instance?.stop();
    this.instance = undefined;
  }

  /** An output is "durable" the moment it is appended: its acks are released at once. */
  private route(output: Output): void {
    const { value, rawValue, schemaId } = this.encodeOutput(output);
    const rec = this.append(output.topic, {
      partition: output.partition ?? 0,
      key: output.key === null ? null : output.key.toString(),
      value,
      rawValue,
      headers: output.headers ?? {},
      schemaId,
    });
    for (const a of output.acks) a.release();
    if (this.schemaOfSource.has(output.topic)) this.loopback.push(rec);
  }

  /** The bytes an output would have on Kafka, and the value a consumer would read back. */
  private encodeOutput(output: Output): { value: unknown; rawValue: Buffer | null; schemaId?: number } {
    if (output.raw) {
      const rawValue = output.value as Buffer | null;
      // Internal JSON records (changelogs, repartition topics) read back as values.
      if (rawValue && (output.kind === 'changelog' || output.kind === 'repartition')) {
        try {
          return { value: JSON.parse(rawValue.toString()), rawValue };
        } catch {
          /* keep bytes */
        }
      }
      return { value: output.value, rawValue };
    }
    const subjectTopic = output.schemaSubjectTopic ?? output.topic;
    const schemaId = this.ids.get(subjectTopic);
    if (schemaId === undefined) throw new SluiceError('SCHEMA_NOT_FOUND', `no schema for ${subjectTopic}`);
    const rawValue = this.serde.encodeSync(schemaId, output.value);
    return { value: this.serde.decodeSync(rawValue).value, rawValue, schemaId };
  }

  private append(topic: string, rec: Omit<DriverRecord, 'offset' | 'topic'>): DriverRecord {
    const list = this.topics.get(topic) ?? [];
    const full = { ...rec, topic, offset: list.length };
    list.push(full);
    this.topics.set(topic, list);
    return full;
  }

  redeliver(topic: string, offset: number, partition = 0): void {
    const input = this.inputs.get(`${topic}/${partition}`)?.[offset];
    if (!input) throw new SluiceError('CLI_USAGE', `nothing was fed to ${topic}/${partition} at offset ${offset}`);
    this.deliver(topic, partition, offset, input.raw, input.o);
  }

  private feed(topic: string, raw: Buffer | null, o: FeedOptions): void {
    if (this.fatal) throw this.fatal;
    const partition = o.partition ?? 0;
    const tp = `${topic}/${partition}`;
    const offset = this.offsets.get(tp) ?? 0;
    this.offsets.set(tp, offset + 1);
    this.updateTables(topic, raw);
    if (!this.schemaOfSource.has(topic)) return;
    const fed = this.inputs.get(tp) ?? [];
    fed[offset] = { raw, o };
    this.inputs.set(tp, fed);
    this.deliver(topic, partition, offset, raw, o);
  }

  private deliver(topic: string, partition: number, offset: number, raw: Buffer | null, o: FeedOptions): void {
    const tp = `${topic}/${partition}`;
    const ack = createAck(
      () => this.acked.set(tp, Math.max(this.acked.get(tp) ?? 0, offset + 1)),
      (err) => {
        this.fatal = err;
      },
    );
    const key = o.key === undefined || o.key === null ? null : Buffer.from(o.key);
    const record = { topic, partition, offset: String(offset), key, value: raw, headers: o.headers ?? {} };
    this.instance!.push({ ...record, timestamp: o.timestamp ?? this.clock }, ack);
    this.instance!.tick();
    if (this.fatal) throw this.fatal;
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.loopback.length) this.feedBack(this.loopback.shift()!);
    } finally {
      this.draining = false;
    }
  }

  private feedBack(r: DriverRecord): void {
    this.feed(r.topic, r.rawValue, { key: r.key, partition: r.partition, headers: r.headers });
  }

  /** Reference topics update their tables, as the runner's reference reader does. */
  private updateTables(topic: string, raw: Buffer | null): void {
    for (const [name, ref] of Object.entries(this.def.references ?? {})) {
      if (ref.topic !== topic || raw === null) continue;
      try {
        const v = this.serde.decodeSync(raw).value;
        const k = referenceKey(v, ref.key);
        if (k !== undefined) this.tables[name].put(k, v);
      } catch {
        /* bad reference rows are the source topology's DLQ business */
      }
    }
  }
}
