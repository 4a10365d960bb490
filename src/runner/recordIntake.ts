import type { EngineMetrics } from '../engine/engineMetrics.ts';
import type { TopologyInstance } from '../engine/topologyInstance.ts';
import type { KafkaMessage } from '../kafka/kafkaTypes.ts';
import type { OffsetTracker } from '../engine/offsetTracker.ts';
import type { PartitionFlow } from './partitionFlow.ts';
import type { Ack } from '../topology/types.ts';

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
 * A fetched record's acknowledgement: reference-counted like `createAck`, as one object per
 * record with its methods on the prototype (no closures per record on the hot path). When the
 * last holder releases it, its offset is done in the partition's tracker (which may make room
 * for a waiting batch, or resume a paused partition), and its latency is observed.
 */
class RecordAck implements Ack {
  private refs = 1;
  private settled = false;
  private readonly intake: Intake;
  private readonly offset: bigint;
  private readonly started: number;

  constructor(intake: Intake, offset: bigint) {
    this.intake = intake;
    this.offset = offset;
    this.started = performance.now();
  }

  retain(): void {
    if (!this.settled) this.refs++;
  }

  release(): void {
    if (this.settled || --this.refs > 0) return;
    this.settled = true;
    const { tracker, flow, topic, partition, latency } = this.intake;
    tracker.markDone(this.offset);
    latency.observe((performance.now() - this.started) / 1000);
    flow.recordDone(topic, partition, tracker);
  }

  fail(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.intake.fail(err);
  }
}

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** Kafka headers as the pipeline sees them: first value of each, as text. */
function headersOf(m: KafkaMessage): Record<string, string> {
  const raw = m.headers;
  if (!raw) return NO_HEADERS;
  let headers: Record<string, string> | undefined;
  for (const k in raw) {
    const v = raw[k];
    if (v === undefined) continue;
    (headers ??= {})[k] = Array.isArray(v) ? String(v[0]) : String(v);
  }
  return headers ?? NO_HEADERS;
}

/**
 * One fetched record into the pipeline: registered with its partition's offset tracker and
 * pushed with the ack that marks its offset done once everything derived from it is durable.
 * Returns the record's offset. Lag and the resolved offset are the batch's business (`afterBatch`).
 */
export function pushRecord(instance: TopologyInstance, intake: Intake, m: KafkaMessage): bigint {
  const offset = BigInt(m.offset);
  intake.tracker.register(offset, (m.value?.length ?? 0) + (m.key?.length ?? 0));
  const ack = new RecordAck(intake, offset);
  const { topic, partition } = intake;
  const timestamp = Number(m.timestamp);
  instance.push(
    { topic, partition, offset: m.offset, key: m.key, value: m.value, headers: headersOf(m), timestamp },
    ack,
  );
  return offset;
}

/**
 * After a batch: `last` (the last record pushed) resolved — once per batch, since the client
 * fetches on from the last resolved offset, every one before it resolved too — and the
 * partition's lag against the batch's high watermark.
 */
export function afterBatch(intake: Intake, last: bigint, high: bigint, resolveOffset: (offset: string) => void): void {
  resolveOffset(String(last));
  const lag = Number(high - last - 1n);
  intake.flow.setLag(intake.topic, intake.partition, lag);
  intake.lag.set(lag);
}
