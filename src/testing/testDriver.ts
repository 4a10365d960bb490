import type avro from 'avsc';
import { SluiceError } from '../core/errors.ts';
import { loadSchema } from '../domain/schemas.ts';
import { createAck } from '../engine/ack.ts';
import { MapReferenceTable, referenceKey } from '../engine/referenceTable.ts';
import { startTopology, type TopologyInstance } from '../engine/topologyInstance.ts';
import { createAvroSerde, type AvroSerde } from '../serde/avroSerde.ts';
import type { Output, TopologyDefinition } from '../topology/types.ts';
import { createMemoryRegistry } from './memoryRegistry.ts';

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
  now(): number;
  /** Offsets acknowledged per `topic/partition` (the next offset the runner would commit). */
  committed(topic: string, partition?: number): number;
  serde: AvroSerde;
  close(): void;
}

export async function createTestDriver(
  def: TopologyDefinition,
  opts: { now?: number; maxMessageBytes?: number } = {},
): Promise<TestDriver> {
  let clock = opts.now ?? Date.UTC(2026, 0, 1);
  const registry = createMemoryRegistry();
  const serde = createAvroSerde(registry, { maxMessageBytes: opts.maxMessageBytes ?? 1024 * 1024 });
  const ids = new Map<string, number>();
  const types = new Map<string, avro.Type>();
  const schemaTopics = new Set<string>([
    ...def.sources.map((s) => s.schema ?? s.topic),
    ...def.outputs.map((o) => o.schema),
    ...Object.values(def.references ?? {}).map((r) => r.topic),
  ]);
  for (const t of schemaTopics) {
    const schema = loadSchema(t);
    const id = await registry.register(`${t}-value`, schema);
    ids.set(t, id);
    types.set(t, await registry.typeForId(id));
  }
  await serde.prepareIds(ids.values());

  const tables: Record<string, MapReferenceTable> = {};
  for (const name of Object.keys(def.references ?? {})) tables[name] = new MapReferenceTable();
  const topics = new Map<string, DriverRecord[]>();
  const offsets = new Map<string, number>();
  const committed = new Map<string, number>();
  const schemaOfSource = new Map(def.sources.map((s) => [s.topic, s.schema ?? s.topic]));

  function append(topic: string, rec: Omit<DriverRecord, 'offset' | 'topic'>): DriverRecord {
    const list = topics.get(topic) ?? [];
    const full = { ...rec, topic, offset: list.length };
    list.push(full);
    topics.set(topic, list);
    return full;
  }

  const loopback: DriverRecord[] = [];
  let draining = false;
  let instance: TopologyInstance | undefined;
  let fatal: unknown;
  instance = startTopology(def, {
    serde,
    tables,
    now: () => clock,
    route(output: Output) {
      let value: unknown = output.value;
      let rawValue: Buffer | null;
      let schemaId: number | undefined;
      if (output.raw) {
        rawValue = output.value as Buffer | null;
        // Internal JSON records (changelogs, repartition topics) read back as values.
        if (rawValue && (output.kind === 'changelog' || output.kind === 'repartition')) {
          try {
            value = JSON.parse(rawValue.toString());
          } catch {
            /* keep bytes */
          }
        }
      } else {
        const subjectTopic = output.schemaSubjectTopic ?? output.topic;
        schemaId = ids.get(subjectTopic);
        if (schemaId === undefined) throw new SluiceError('SCHEMA_NOT_FOUND', `no schema for ${subjectTopic}`);
        rawValue = serde.encodeSync(schemaId, output.value);
        value = serde.decodeSync(rawValue).value; // what a consumer would read back
      }
      const rec = append(output.topic, {
        partition: output.partition ?? 0,
        key: output.key === null ? null : output.key.toString(),
        value,
        rawValue,
        headers: output.headers ?? {},
        schemaId,
      });
      for (const a of output.acks) a.release();
      // Internal topics the topology also reads (repartition topics) loop back, as on Kafka.
      if (schemaOfSource.has(output.topic)) loopback.push(rec);
    },
    onFatal(err) {
      fatal = err;
    },
  });

  function feed(
    topic: string,
    raw: Buffer | null,
    o: { key?: string | null; partition?: number; timestamp?: number; headers?: Record<string, string> },
  ): void {
    if (fatal) throw fatal;
    const partition = o.partition ?? 0;
    const tp = `${topic}/${partition}`;
    const offset = offsets.get(tp) ?? 0;
    offsets.set(tp, offset + 1);
    // Reference topics update their tables, as the runner's reference reader does.
    for (const [name, ref] of Object.entries(def.references ?? {})) {
      if (ref.topic !== topic || raw === null) continue;
      try {
        const v = serde.decodeSync(raw).value;
        const k = referenceKey(v, ref.key);
        if (k !== undefined) tables[name].put(k, v);
      } catch {
        /* bad reference rows are the source topology's DLQ business */
      }
    }
    if (!schemaOfSource.has(topic)) return;
    const ack = createAck(
      () => {
        committed.set(tp, Math.max(committed.get(tp) ?? 0, offset + 1));
      },
      (err) => {
        fatal = err;
      },
    );
    instance!.push(
      {
        topic,
        partition,
        offset: String(offset),
        key: o.key === undefined || o.key === null ? null : Buffer.from(o.key),
        value: raw,
        headers: o.headers ?? {},
        timestamp: o.timestamp ?? clock,
      },
      ack,
    );
    instance!.tick();
    if (fatal) throw fatal;
    if (draining) return;
    draining = true;
    try {
      while (loopback.length) {
        const r = loopback.shift()!;
        feed(r.topic, r.rawValue, { key: r.key, partition: r.partition, headers: r.headers });
      }
    } finally {
      draining = false;
    }
  }

  const driver: TestDriver = {
    encode(topic, value) {
      const schemaTopic = schemaOfSource.get(topic) ?? topic;
      const id = ids.get(schemaTopic);
      if (id === undefined) throw new SluiceError('SCHEMA_NOT_FOUND', `topology ${def.name} does not read ${topic}`);
      return serde.encodeSync(id, value);
    },
    pipeInput(topic, value, o = {}) {
      feed(topic, driver.encode(topic, value), o);
    },
    pipeRaw(topic, raw, o = {}) {
      feed(topic, raw, o);
    },
    readOutput(topic) {
      return topics.get(topic) ?? [];
    },
    outputTopics() {
      return [...topics.keys()];
    },
    advanceTime(ms) {
      clock += ms;
      instance?.tick();
      if (fatal) throw fatal;
      const pending = loopback.splice(0);
      for (const r of pending) feed(r.topic, r.rawValue, { key: r.key, partition: r.partition, headers: r.headers });
    },
    now: () => clock,
    committed(topic, partition = 0) {
      return committed.get(`${topic}/${partition}`) ?? 0;
    },
    serde,
    close() {
      instance?.stop();
      instance = undefined;
    },
  };
  return driver;
}
