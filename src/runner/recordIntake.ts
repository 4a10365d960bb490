import { createAck } from '../engine/ack.ts';
import type { EngineMetrics } from '../engine/engineMetrics.ts';
import type { TopologyInstance } from '../engine/topologyInstance.ts';
import type { KafkaMessage } from '../kafka/kafkaTypes.ts';
import type { OffsetTracker } from '../engine/offsetTracker.ts';
import type { PartitionFlow } from './partitionFlow.ts';

/** What one batch's records go in with: bound once per batch, not per record. */
export interface Intake {
  topic: string;
  partition: number;
  flow: PartitionFlow;
  tracker: OffsetTracker;
  latency: { observe(seconds: number): void };
  lag: { set(value: number): void };
  fail(err: unknown): void;
}

/** The intake of one partition's batch: its tracker and label-bound metric children looked up once. */
export function batchIntake(
  flow: PartitionFlow,
  metrics: EngineMetrics,
  where: { topology: string; topic: string; partition: number },
  fail: (err: unknown) => void,
): Intake {
  const { topology, topic, partition } = where;
  return {
    topic,
    partition,
    flow,
    tracker: flow.tracker(topic, partition),
    latency: metrics.processingLatency.labels({ topology }),
    lag: metrics.consumerLag.labels({ topology, topic, partition: String(partition) }),
    fail,
  };
}

/**
 * One fetched record into the pipeline: registered with its partition's offset tracker, pushed
 * with the ack that marks its offset done once everything derived from it is durable (which may
 * resume a paused partition), and the partition's lag updated. Returns the record's offset.
 */
export function pushRecord(instance: TopologyInstance, intake: Intake, m: KafkaMessage, high: bigint): bigint {
  const { flow, tracker, topic, partition } = intake;
  const offset = BigInt(m.offset);
  tracker.register(offset, (m.value?.length ?? 0) + (m.key?.length ?? 0));
  const started = process.hrtime.bigint();
  const ack = createAck(
    () => {
      tracker.markDone(offset);
      intake.latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
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
  intake.lag.set(lag);
  return offset;
}
