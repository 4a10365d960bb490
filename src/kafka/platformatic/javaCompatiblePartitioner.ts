import { randomBytes } from 'node:crypto';
import { murmur2 } from '../murmur2.ts';

/**
 * The partition of a record, as kafkajs' `Partitioners.DefaultPartitioner` (and the Java client)
 * picks it, so a key lands on the same partition whichever driver wrote it (co-partitioned
 * changelogs, per-key order across a driver switch):
 * - the record's own partition when it has one;
 * - a keyed record: `(murmur2(key) & 0x7fffffff) % partitions`;
 * - a record without key: round robin from a random start, per topic.
 *
 * @platformatic/kafka reduces what this returns modulo the topic's partition count itself, so the
 * value is the hash (or counter) before that reduction.
 *
 * @example
 *   new Producer({ ..., partitioner: createJavaCompatiblePartitioner() });
 */
export function createJavaCompatiblePartitioner(): (
  message: { topic: string; partition?: number },
  key: Buffer | undefined,
) => number {
  const counters = new Map<string, number>();
  return (message, key) => {
    if (typeof message.partition === 'number') return message.partition;
    if (Buffer.isBuffer(key)) return murmur2(key) & 0x7fffffff;
    const next = ((counters.get(message.topic) ?? randomBytes(4).readUInt32BE(0)) + 1) >>> 0;
    counters.set(message.topic, next);
    return next & 0x7fffffff;
  };
}
