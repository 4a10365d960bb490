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

export function createTransactionalOutputs(opts: {
  kafka: KafkaClient;
  groupId: string;
  serde: AvroSerde;
  schemaIds: Map<string, number>;
  onDurable?: (output: Output) => void;
}): TransactionalOutputs {
  const producers = new Map<string, Promise<Producer>>();
  const buffers = new Map<string, Output[]>();
  // One transaction at a time per producer: a batch's and the timer's are chained.
  const chains = new Map<string, Promise<void>>();
  let committed = 0;

  function producerFor(key: string): Promise<Producer> {
    let p = producers.get(key);
    if (!p) {
      p = (async () => {
        const producer = opts.kafka.producer({ transactionalId: `${opts.groupId}.${key}` });
        await producer.connect();
        return producer;
      })();
      producers.set(key, p);
      p.catch(() => producers.delete(key));
    }
    return p;
  }

  async function drop(key: string): Promise<void> {
    const p = producers.get(key);
    producers.delete(key);
    await (await p?.catch(() => undefined))?.disconnect().catch(() => {});
  }

  function serial(key: string, fn: () => Promise<void>): Promise<void> {
    const next = (chains.get(key) ?? Promise.resolve()).then(fn);
    const settled = next.catch(() => {});
    chains.set(key, settled);
    void settled.then(() => {
      if (chains.get(key) === settled) chains.delete(key);
    });
    return next;
  }

  async function transact(
    key: string,
    outputs: Output[],
    offsets?: { topic: string; partition: number; offset: string },
  ): Promise<void> {
    if (!outputs.length && !offsets) return;
    const messages = new Map<string, Message[]>();
    for (const o of outputs) {
      const list = messages.get(o.topic) ?? [];
      list.push(encodeOutput(o, opts.serde, opts.schemaIds));
      messages.set(o.topic, list);
    }
    const producer = await producerFor(key);
    const tx = await producer.transaction();
    try {
      if (messages.size)
        await tx.sendBatch({ acks: -1, topicMessages: [...messages].map(([topic, m]) => ({ topic, messages: m })) });
      if (offsets)
        await tx.sendOffsets({
          consumerGroupId: opts.groupId,
          topics: [{ topic: offsets.topic, partitions: [{ partition: offsets.partition, offset: offsets.offset }] }],
        });
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => {});
      await drop(key); // its state machine may be stuck; a new one re-initialises (and fences)
      throw err;
    }
    committed++;
    for (const o of outputs) {
      opts.onDurable?.(o);
      for (const a of o.acks) a.release();
    }
  }

  function take(key: string): Output[] {
    const out = buffers.get(key) ?? [];
    buffers.delete(key);
    return out;
  }

  return {
    add(output, txKey) {
      const list = buffers.get(txKey);
      if (list) list.push(output);
      else buffers.set(txKey, [output]);
    },
    commitBatch(topic, partition, nextOffset) {
      const key = txKeyOf(topic, partition);
      const outputs = take(key); // now: a discard after this call must not empty a commit with offsets
      return serial(key, () => transact(key, outputs, { topic, partition, offset: nextOffset }));
    },
    async flushPending() {
      await Promise.all(
        [...buffers.keys()].map((key) => {
          const outputs = take(key);
          return serial(key, () => transact(key, outputs));
        }),
      );
    },
    async fence(keys) {
      await Promise.all(
        [...keys].map((key) =>
          serial(key, async () => {
            const tx = await (await producerFor(key)).transaction(); // InitProducerId: the fence
            await tx.abort(); // nothing in it: no round trip
          }),
        ),
      );
    },
    discard() {
      buffers.clear();
    },
    async retain(owned) {
      for (const key of [...buffers.keys()]) if (!owned.has(key)) buffers.delete(key);
      await Promise.all([...producers.keys()].filter((k) => !owned.has(k)).map((k) => serial(k, () => drop(k))));
    },
    async close() {
      await Promise.all([...chains.values()]);
      await Promise.all([...producers.keys()].map((k) => drop(k)));
    },
    get committed() {
      return committed;
    },
  };
}
