import type { Config } from '../config/config.ts';
import { createLogger } from '../core/log.ts';
import type { EngineMetrics } from '../engine/engineMetrics.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { Producer } from '../kafka/kafkaTypes.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import type { SinkConnector, TopologyDefinition } from '../topology/types.ts';
import { durableCounter } from './durableCounter.ts';
import { createOutputSink, type OutputSink } from './outputSink.ts';
import { createTransactionalOutputs, type TransactionalOutputs } from './transactionalOutputs.ts';

const log = createLogger('runner');

/** A runner's Kafka outputs: the idempotent producer's sink; under exactly-once, the partitions' transactions. */
export interface KafkaOutputs {
  producer: Producer;
  sink: OutputSink;
  tx?: TransactionalOutputs;
}

/**
 * Connects a runner's producer and its output sink, and its transactional outputs when the
 * topology runs exactly-once. Exactly-once covers Kafka outputs: a topology writing to S3 or the
 * warehouse keeps commit-after-durable — those sinks have their own exactly-once effect
 * (deterministic object names; offsets stored with the rows), and a Kafka transaction cannot
 * wait for an S3 object.
 */
export async function connectKafkaOutputs(args: {
  cfg: Config;
  kafka: KafkaClient;
  serde: AvroSerde;
  def: TopologyDefinition;
  groupId: string;
  schemaIds: Map<string, number>;
  metrics: EngineMetrics;
  onFatal: (err: unknown) => void;
}): Promise<KafkaOutputs> {
  const { cfg, kafka, serde, def, schemaIds } = args;
  const producer = kafka.producer();
  await producer.connect();
  const onDurable = durableCounter(args.metrics, def.name);
  const sink = createOutputSink({ producer, serde, schemaIds, onDurable, onFatal: args.onFatal });
  if (cfg.processingGuarantee !== 'exactly_once' || def.outputs.some((o) => o.sink)) return { producer, sink };
  const tx = createTransactionalOutputs({ kafka, groupId: args.groupId, serde, schemaIds, onDurable });
  return { producer, sink, tx };
}

/** Flushes every output until nothing is in flight, the deadline passes or `stop()` says so (a fatal error). */
export async function drainOutputs(
  topology: string,
  sink: OutputSink | undefined,
  sinks: Iterable<SinkConnector>,
  opts: { deadline: number; inFlight: () => number; stop: () => boolean },
): Promise<void> {
  const flushAll = async () => {
    await sink?.flush().catch(() => {});
    for (const s of sinks) {
      await s.flush().catch((err) => log.error({ topology, sink: s.name, err: String(err) }, 'sink flush failed'));
    }
  };
  await flushAll();
  while (!opts.stop() && Date.now() < opts.deadline && opts.inFlight() > 0) {
    await new Promise((r) => setTimeout(r, 20));
    await flushAll();
  }
}
