import type { Config } from '../../config/config.ts';
import { asSluiceError, errorCode } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import { ensureTopics } from '../../kafka/ensureTopics.ts';
import type { Admin, Message, Producer } from '../../kafka/kafkaTypes.ts';
import type { DlqEntry } from './dlqEntry.ts';
import { recordFailure, type ReplaySummary } from './replayResult.ts';
import type { ReplayTopics } from './replayTopics.ts';

const log = createLogger('replay');

/** A record on its way back: to a source topic (`replay`) or to the parking lot (`park`). */
export interface PendingRecord {
  kind: 'replay' | 'park';
  topic: string;
  message: Message;
  trackingKey: string;
  entry: DlqEntry;
}

/** The topics one replay reads from and writes to. */
export interface ReplayTopicNames {
  dlqTopic: string;
  parkedTopic: string;
  trackingTopic: string;
}

/**
 * Sends replayed and parked records in batches, and records each batch in the tracking topic
 * once the broker has it: a crash in between replays those records again, never loses them.
 */
export class ReplayWriter {
  private pending: PendingRecord[] = [];
  private parkedTopicReady: boolean;
  private readonly cfg: Config;
  private readonly admin: Admin;
  private readonly producer: Producer;
  private readonly topics: ReplayTopics;
  private readonly names: ReplayTopicNames;
  private readonly summary: ReplaySummary;

  constructor(
    deps: { cfg: Config; admin: Admin; producer: Producer; topics: ReplayTopics },
    names: ReplayTopicNames,
    summary: ReplaySummary,
  ) {
    this.cfg = deps.cfg;
    this.admin = deps.admin;
    this.producer = deps.producer;
    this.topics = deps.topics;
    this.names = names;
    this.summary = summary;
    this.parkedTopicReady = deps.topics.has(names.parkedTopic);
  }

  get size(): number {
    return this.pending.length;
  }

  push(p: PendingRecord): void {
    this.pending.push(p);
  }

  /** Sends what is pending, then records it in the tracking topic once the broker has it. */
  async flush(): Promise<void> {
    if (!this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    if (!(await this.send(batch))) return;
    for (const p of batch) {
      if (p.kind === 'park') this.summary.parked++;
      else {
        this.summary.replayed++;
        this.summary.byTopic[p.topic] = (this.summary.byTopic[p.topic] ?? 0) + 1;
      }
    }
    await this.track(batch);
  }

  /** Sends the batch with acks from every replica; false (each record counted failed) when it could not. */
  private async send(batch: PendingRecord[]): Promise<boolean> {
    try {
      if (!this.parkedTopicReady && batch.some((p) => p.kind === 'park')) {
        const { parkedTopic, dlqTopic } = this.names;
        await ensureTopics(this.admin, [{ topic: parkedTopic, partitions: await this.topics.partitionsOf(dlqTopic) }], {
          partitions: this.cfg.topicPartitions,
          replicationFactor: this.cfg.topicReplication,
        });
        this.parkedTopicReady = true;
      }
      const byTopic = new Map<string, Message[]>();
      for (const p of batch) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.message]);
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      return true;
    } catch (err) {
      const e = asSluiceError(err, 'KAFKA_PRODUCE_FAILED');
      for (const p of batch) recordFailure(this.summary, e.code, p.entry);
      return false;
    }
  }

  private async track(batch: PendingRecord[]): Promise<void> {
    const { dlqTopic, trackingTopic } = this.names;
    const at = new Date().toISOString();
    try {
      await this.producer.send({
        topic: trackingTopic,
        acks: -1,
        messages: batch.map((p) => ({
          key: p.trackingKey,
          value: JSON.stringify({
            outcome: p.kind === 'park' ? 'parked' : 'replayed',
            to: p.topic,
            dlq: { topic: dlqTopic, partition: p.entry.record.partition, offset: p.entry.record.offset },
            replayCount: p.entry.replayCount,
            at,
          }),
        })),
      });
    } catch (err) {
      this.summary.untracked += batch.length;
      log.error(
        {
          code: errorCode('KAFKA_PRODUCE_FAILED'),
          trackingTopic,
          records: batch.length,
          err: (err as Error).message,
        },
        'replayed records could not be tracked; a rerun would replay them again',
      );
    }
  }
}
