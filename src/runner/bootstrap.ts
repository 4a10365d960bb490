import type { Config } from '../config/config.ts';
import { createLogger } from '../core/log.ts';
import { loadSchema, loadType } from '../domain/schemas.ts';
import type { ConnectorStats, EngineMetrics } from '../engine/engineMetrics.ts';
import type { StoreInfo } from '../engine/stateStores.ts';
import type { OperatorMetrics } from '../operators/operatorContext.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import { ensureTopics, type TopicSpec } from '../kafka/ensureTopics.ts';
import { retryKafka } from '../kafka/retryKafka.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import type { RegistryClient } from '../serde/schemaRegistry.ts';
import { dlqTopicOf } from '../topology/defineTopology.ts';
import type { Output, SinkConnector, SinkRecordError, TopologyDefinition } from '../topology/types.ts';
import { skippedTombstones } from '../operators/skippedTombstones.ts';

/**
 * What a runner sets up before it consumes: topics, schemas, reference tables, sink connectors,
 * and the topics of its state stores. Each step is idempotent, so a restart repeats it safely.
 */

const log = createLogger('runner');

/** Topics a topology needs: sources, outputs, DLQs, reference topics (a topic playing several parts once). */
export function topologyTopics(def: TopologyDefinition): TopicSpec[] {
  const specs: TopicSpec[] = [];
  for (const s of def.sources) specs.push({ topic: s.topic }, { topic: dlqTopicOf(s) });
  for (const o of def.outputs) if (!o.sink) specs.push({ topic: o.topic, compacted: o.compacted });
  for (const r of Object.values(def.references ?? {})) specs.push({ topic: r.topic });
  return [...new Map(specs.map((s) => [s.topic, s])).values()];
}

/** Creates what is missing (and checks what exists) among the topology's topics. */
export async function ensureTopologyTopics(kafka: KafkaClient, cfg: Config, def: TopologyDefinition): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const created = await ensureTopics(admin, topologyTopics(def), {
      partitions: cfg.topicPartitions,
      replicationFactor: cfg.topicReplication,
    });
    if (created.length) log.info({ topology: def.name, created }, 'created topics');
  } finally {
    await admin.disconnect();
  }
}

/** Registers the schemas the topology reads and writes (TopicNameStrategy subjects); ids by schema name. */
export async function registerSchemas(
  registry: RegistryClient,
  serde: AvroSerde,
  def: TopologyDefinition,
): Promise<Map<string, number>> {
  const schemaIds = new Map<string, number>();
  for (const name of new Set([...def.sources.map((s) => s.schema ?? s.topic), ...def.outputs.map((o) => o.schema)])) {
    schemaIds.set(name, await registry.register(`${name}-value`, loadSchema(name)));
  }
  await serde.prepareIds(schemaIds.values());
  return schemaIds;
}

/** Creates and connects the sink connectors of the topology's sink outputs, by output topic. */
export async function connectSinks(args: {
  cfg: Config;
  def: TopologyDefinition;
  schemaIds: Map<string, number>;
  metrics: EngineMetrics;
  deadLetter(output: Output, e: SinkRecordError): void;
}): Promise<Map<string, SinkConnector>> {
  const sinks = new Map<string, SinkConnector>();
  for (const o of args.def.outputs) {
    if (!o.sink) continue;
    const connector = o.sink({
      topology: args.def.name,
      schemaIds: args.schemaIds,
      schemaFor: (name) => loadType(name),
      config: args.cfg,
      deadLetter: args.deadLetter,
    });
    await connector.connect();
    sinks.set(o.topic, connector);
    const withStats = connector as SinkConnector & { stats?: ConnectorStats };
    args.metrics.registerConnector(`${args.def.name}/${connector.name}`, () => withStats.stats);
  }
  return sinks;
}

/** Changelog topics (compacted, co-partitioned with the stores' input) and late topics. */
export async function ensureStoreTopics(
  kafka: KafkaClient,
  cfg: Config,
  def: TopologyDefinition,
  stores: StoreInfo[],
): Promise<void> {
  if (!stores.length) return;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const meta = await retryKafka(
      () => admin.fetchTopicMetadata({ topics: def.sources.map((s) => s.topic) }),
      "reading the source topics' metadata",
    );
    const partitions = Math.max(cfg.topicPartitions, ...meta.topics.map((t) => t.partitions.length));
    const late = [...new Set(stores.flatMap((s) => (s.lateTopic ? [s.lateTopic] : [])))];
    await ensureTopics(
      admin,
      [
        ...stores.map((s) => ({ topic: s.changelog, partitions, compacted: true, config: s.config })),
        ...late.map((topic) => ({ topic })),
      ],
      { partitions, replicationFactor: cfg.topicReplication },
    );
  } finally {
    await admin.disconnect();
  }
}

/** The operators' counters, bound to the runner's Prometheus metrics for one topology. */
export function operatorMetricsOf(metrics: EngineMetrics, topology: string): OperatorMetrics {
  return {
    ruleFailure: (rule) => metrics.ruleFailures.inc({ topology, rule }),
    late: (store) => metrics.recordsLate.inc({ topology, store }),
    windowsOpen: (store, open) => metrics.windowOpen.set({ topology, store }, open),
    emitDelay: (store, seconds) => metrics.windowEmitDelay.observe({ topology, store }, seconds),
    tombstoneSkipped: (topic) => skippedTombstones(metrics.registry).inc({ topology, topic }),
    quality: metrics.quality.topology(topology),
  };
}
