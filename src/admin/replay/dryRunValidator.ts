import type { Config } from '../../config/config.ts';
import { SluiceError } from '../../core/errors.ts';
import { createAck } from '../../engine/ack.ts';
import { MapReferenceTable } from '../../engine/referenceTable.ts';
import { startTopology, type TopologyInstance } from '../../engine/topologyInstance.ts';
import type { KafkaClient } from '../../kafka/createKafkaClient.ts';
import type { IHeaders } from '../../kafka/kafkaTypes.ts';
import { readToEnd } from '../../kafka/readRange.ts';
import { startReferenceReader } from '../../runner/referenceReader.ts';
import type { AvroSerde } from '../../serde/avroSerde.ts';
import type { Output, TopologyDefinition } from '../../topology/types.ts';
import { headersAsText } from '../headersAsText.ts';
import type { DlqEntry } from './dlqEntry.ts';

/** What today's topology does with a replayed record. */
export type Verdict =
  | { outcome: 'pass' }
  | { outcome: 'filtered' }
  | { outcome: 'fail'; reason: string; rule?: string };

/** The run's connections a validator loads reference tables and state through. */
export interface ValidatorDeps {
  cfg: Config;
  kafka: KafkaClient;
  serde: AvroSerde;
}

async function listTopicsOf(kafka: KafkaClient): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}

/**
 * Today's topologies, run in memory: what would happen to a record pushed into a source topic.
 * Each topology starts once, with its reference tables loaded and its dedupe stores restored, the
 * way a runner would start it.
 */
export class DryRunValidator {
  private readonly instances = new Map<TopologyDefinition, Promise<TopologyInstance>>();
  private readonly readers: { stop(): Promise<void> }[] = [];
  private captured: Output[] = [];
  private fatal: unknown;
  private readonly deps: ValidatorDeps;
  private readonly topologies: Record<string, TopologyDefinition>;

  constructor(deps: ValidatorDeps, topologies: Record<string, TopologyDefinition>) {
    this.deps = deps;
    this.topologies = topologies;
  }

  /** The topology that reads `topic`: the one named (by the DLQ header) if it does, else the first. */
  topologyFor(topic: string, named?: string): TopologyDefinition | undefined {
    const candidates = Object.values(this.topologies).filter((t) => t.sources.some((s) => s.topic === topic));
    return candidates.find((t) => t.name === named) ?? candidates[0];
  }

  /** Pushes the record through the topology reading `topic` and classifies what came out. */
  async evaluate(def: TopologyDefinition, topic: string, e: DlqEntry, headers: IHeaders): Promise<Verdict> {
    const instance = await this.instanceFor(def);
    await this.deps.serde.prepare([e.record.value]);
    this.captured = [];
    this.fatal = undefined;
    const ack = createAck(
      () => {},
      () => {},
    );
    try {
      instance.push(
        {
          topic,
          partition: e.origPartition ?? e.record.partition,
          offset: e.origOffset ?? e.record.offset,
          key: e.record.key,
          value: e.record.value,
          headers: headersAsText(headers),
          timestamp: e.record.timestamp,
        },
        ack,
      );
    } catch (err) {
      this.fatal ??= err;
    }
    const outputs = this.captured;
    this.captured = [];
    for (const o of outputs) for (const a of o.acks) a.release();
    if (this.fatal !== undefined) {
      // A pipeline that errored is finished: the next record gets a fresh instance.
      this.instances.delete(def);
      instance.stop();
      return { outcome: 'fail', reason: 'processing' };
    }
    return classify(outputs);
  }

  async close(): Promise<void> {
    for (const p of this.instances.values()) (await p.catch(() => undefined))?.stop();
    for (const r of this.readers) await r.stop().catch(() => {});
  }

  private instanceFor(def: TopologyDefinition): Promise<TopologyInstance> {
    let pending = this.instances.get(def);
    if (!pending) {
      pending = this.start(def);
      this.instances.set(def, pending);
    }
    return pending;
  }

  private async start(def: TopologyDefinition): Promise<TopologyInstance> {
    const { kafka, serde } = this.deps;
    const instance = startTopology(def, {
      serde,
      tables: await this.loadReferenceTables(def),
      now: Date.now,
      route: (o) => {
        this.captured.push(o);
      },
      onFatal: (err) => {
        this.fatal = err;
      },
    });
    // What the runner knows about duplicates, exactly as it knows it: a dead letter rejected
    // as a duplicate of an accepted record is still one (the real replay's runner agrees).
    const existing = new Set(await listTopicsOf(kafka));
    for (const store of instance.stores().filter((x) => x.kind === 'dedupe' && existing.has(x.changelog))) {
      await readToEnd(kafka, store.changelog, (p, key, value) => {
        if (key !== null) instance.restore(store.changelog, p, key, value);
      });
    }
    return instance;
  }

  private async loadReferenceTables(def: TopologyDefinition): Promise<Record<string, MapReferenceTable>> {
    const { cfg, kafka, serde } = this.deps;
    const tables: Record<string, MapReferenceTable> = {};
    for (const [name, spec] of Object.entries(def.references ?? {})) {
      tables[name] = new MapReferenceTable();
      const reader = await startReferenceReader(cfg, kafka, serde, spec, tables[name]).catch((err) => {
        throw new SluiceError(
          'KAFKA_CONNECT_FAILED',
          `dry run: cannot load reference table ${name} of ${def.name} from ${spec.topic}: ` + (err as Error).message,
          { cause: err },
        );
      });
      this.readers.push(reader);
      await reader.ready;
    }
    return tables;
  }
}

/** A dead letter among the outputs is a failure; any other output a pass; none, filtered out. */
function classify(outputs: Output[]): Verdict {
  const dlq = outputs.find((o) => o.raw && o.headers?.['sluice.error.reason']);
  if (dlq)
    return {
      outcome: 'fail',
      reason: dlq.headers!['sluice.error.reason'],
      rule: dlq.headers!['sluice.error.rule'] || undefined,
    };
  return outputs.length ? { outcome: 'pass' } : { outcome: 'filtered' };
}
