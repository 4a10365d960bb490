import { createAck } from '../engine/ack.ts';
import type { EngineMetrics } from '../engine/engineMetrics.ts';
import type { TopologyInstance } from '../engine/topologyInstance.ts';
import type { KafkaMessage } from '../kafka/kafkaTypes.ts';
import type { PartitionFlow } from './partitionFlow.ts';

export interface Intake {
  flow: PartitionFlow;
  metrics: EngineMetrics;
  topology: string;
  fail(err: unknown): void;
}

/**
 * One fetched record into the pipeline: registered with its partition's offset tracker, pushed
 * with the ack that marks its offset done once everything derived from it is durable (which may
 * resume a paused partition), and the partition's lag updated. Returns the record's offset.
 */
export function pushRecord(
  instance: TopologyInstance,
  intake: Intake,
  topic: string,
  partition: number,
  m: KafkaMessage,
  high: bigint,
): bigint {
  const { flow, metrics, topology } = intake;
  const offset = BigInt(m.offset);
  const tracker = flow.tracker(topic, partition);
  tracker.register(offset);
  const started = process.hrtime.bigint();
  const latency = metrics.processingLatency.labels({ topology });
  const ack = createAck(
    () => {
      tracker.markDone(offset);
      latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
      flow.recordDone(topic, partition, tracker);
    },
    (err) => intake.fail(err),
  );
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : String(v);
  }
  const timestamp = Number(m.timestamp);
  instance.push({ topic, partition, offset: m.offset, key: m.key, value: m.value, headers, timestamp }, ack);
  const lag = Number(high - offset - 1n);
  flow.setLag(topic, partition, lag);
  metrics.consumerLag.labels({ topology, topic, partition: String(partition) }).set(lag);
  return offset;
}
