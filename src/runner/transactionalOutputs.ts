import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { Message, Producer } from '../kafka/kafkaTypes.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import type { Output } from '../topology/types.ts';
import { encodeOutput } from './outputSink.ts';

/**
 * Exactly-once Kafka to Kafka (`SLUICE_PROCESSING_GUARANTEE=exactly_once`), in the manner of Kafka
 * Streams' first exactly-once mode: one transactional producer per input partition, with the
 * stable id `<group>.<topic>.<partition>`.
 *
 * - Per batch, everything derived from it — outputs, DLQ records, changelog writes — and the
 *   batch's next offset (`sendOffsets`, as the consumer group's commit) commit in one transaction:
 *   after a crash either all of it is visible to read_committed readers, or none of it and the
 *   batch is consumed again from the committed offset.
 * - Outputs derived from state, not from a batch (window results and checkpoints from the timer,
 *   closed windows' tombstones), commit in a transaction of their partition's producer too, so a
 *   final result and the tombstone of its window are visible together or not at all.
 * - Zombie fencing: kafkajs commits offsets in a transaction without the group generation (no
 *   KIP-447), so fencing comes from the transactional id: the runner that takes a partition over
 *   initialises the same id first (`fence`), which aborts the previous owner's open transaction
 *   and makes its next commit fail; only then does it read the committed offsets.
 * - A failed transaction is aborted and its producer dropped (the next one re-initialises and
 *   bumps the epoch); the caller rewinds the partition to its committed offset and state.
 */
export interface TransactionalOutputs {
  /** Buffers an output in the transaction of the input partition `txKey` (`topic/partition`). */
  add(output: Output, txKey: string): void;
  /** Commits the partition's buffered outputs together with its next offset to consume. */
  commitBatch(topic: string, partition: number, nextOffset: string): Promise<void>;
  /** Commits the buffered state outputs of every partition (no offsets move). */
  flushPending(): Promise<void>;
  /** Initialises the producers of these partitions, fencing any previous owner's. */
  fence(keys: Iterable<string>): Promise<void>;
  /** Forgets buffered outputs (they are rebuilt from restored state and re-delivered records). */
  discard(): void;
  /** Closes the producers of partitions no longer owned. */
  retain(owned: Set<string>): Promise<void>;
  close(): Promise<void>;
  /** Transactions committed (for metrics and the bench). */
  readonly committed: number;
}

export function txKeyOf(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

export interface TransactionalOutputsOptions {
  kafka: KafkaClient;
  groupId: string;
  serde: AvroSerde;
  schemaIds: Map<string, number>;
  onDurable?: (output: Output) => void;
}

export function createTransactionalOutputs(opts: TransactionalOutputsOptions): TransactionalOutputs {
  return new PartitionTransactions(opts);
}

class PartitionTransactions implements TransactionalOutputs {
  private readonly opts: TransactionalOutputsOptions;
  private readonly producers = new Map<string, Promise<Producer>>();
  private readonly buffers = new Map<string, Output[]>();
  /** One transaction at a time per producer: a batch's and the timer's are chained. */
  private readonly chains = new Map<string, Promise<void>>();
  committed = 0;

  constructor(opts: TransactionalOutputsOptions) {
    this.opts = opts;
  }

  add(output: Output, txKey: string): void {
    const list = this.buffers.get(txKey);
    if (list) list.push(output);
    else this.buffers.set(txKey, [output]);
  }

  commitBatch(topic: string, partition: number, nextOffset: string): Promise<void> {
    const key = txKeyOf(topic, partition);
    const outputs = this.take(key); // now: a discard after this call must not empty a commit with offsets
    return this.serial(key, () => this.transact(key, outputs, { topic, partition, offset: nextOffset }));
  }

  async flushPending(): Promise<void> {
    await Promise.all(
      [...this.buffers.keys()].map((key) => {
        const outputs = this.take(key);
        return this.serial(key, () => this.transact(key, outputs));
      }),
    );
  }

  async fence(keys: Iterable<string>): Promise<void> {
    await Promise.all(
      [...keys].map((key) =>
        this.serial(key, async () => {
          const tx = await (await this.producerFor(key)).transaction(); // InitProducerId: the fence
          await tx.abort(); // nothing in it: no round trip
        }),
      ),
    );
  }

  discard(): void {
    this.buffers.clear();
  }

  async retain(owned: Set<string>): Promise<void> {
    for (const key of [...this.buffers.keys()]) if (!owned.has(key)) this.buffers.delete(key);
    const gone = [...this.producers.keys()].filter((k) => !owned.has(k));
    await Promise.all(gone.map((k) => this.serial(k, () => this.drop(k))));
  }

  async close(): Promise<void> {
    await Promise.all([...this.chains.values()]);
    await Promise.all([...this.producers.keys()].map((k) => this.drop(k)));
  }

  private producerFor(key: string): Promise<Producer> {
    let p = this.producers.get(key);
    if (!p) {
      p = (async () => {
        const producer = this.opts.kafka.producer({ transactionalId: `${this.opts.groupId}.${key}` });
        await producer.connect();
        return producer;
      })();
      this.producers.set(key, p);
      p.catch(() => this.producers.delete(key));
    }
    return p;
  }

  private async drop(key: string): Promise<void> {
    const p = this.producers.get(key);
    this.producers.delete(key);
    await (await p?.catch(() => undefined))?.disconnect().catch(() => {});
  }

  private serial(key: string, fn: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(key) ?? Promise.resolve()).then(fn);
    const settled = next.catch(() => {});
    this.chains.set(key, settled);
    void settled.then(() => {
      if (this.chains.get(key) === settled) this.chains.delete(key);
    });
    return next;
  }

  private take(key: string): Output[] {
    const out = this.buffers.get(key) ?? [];
    this.buffers.delete(key);
    return out;
  }

  private async transact(
    key: string,
    outputs: Output[],
    offsets?: { topic: string; partition: number; offset: string },
  ): Promise<void> {
    if (!outputs.length && !offsets) return;
    const messages = new Map<string, Message[]>();
    for (const o of outputs) {
      const list = messages.get(o.topic) ?? [];
      list.push(encodeOutput(o, this.opts.serde, this.opts.schemaIds));
      messages.set(o.topic, list);
    }
    const producer = await this.producerFor(key);
    const tx = await producer.transaction();
    try {
      const topicMessages = [...messages].map(([topic, m]) => ({ topic, messages: m }));
      if (messages.size) await tx.sendBatch({ acks: -1, topicMessages });
      if (offsets) {
        const partitions = [{ partition: offsets.partition, offset: offsets.offset }];
        await tx.sendOffsets({ consumerGroupId: this.opts.groupId, topics: [{ topic: offsets.topic, partitions }] });
      }
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => {});
      await this.drop(key); // its state machine may be stuck; a new one re-initialises (and fences)
      throw err;
    }
    this.committed++;
    for (const o of outputs) {
      this.opts.onDurable?.(o);
      for (const a of o.acks) a.release();
    }
  }
}
