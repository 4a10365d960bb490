import type { KafkaClient } from '../src/kafka/createKafkaClient.ts';

/** An intermediate topic of the end-to-end path, and how to tell which session a record is about. */
export interface Hop {
  name: string;
  topic: string;
  /** Synchronous, and cheap: an await per record here delayed what the probe saw by ~20 ms. */
  sessionOf(record: { key: Buffer | null; value: Buffer | null }): string | undefined;
}

/**
 * Watches the topics between the producer and the feed with one consumer of its own, and notes
 * when each session first appears on each: where the end-to-end latency is spent, hop by hop.
 * Joins before it returns (a fresh group starts at the end of each topic), so everything produced
 * afterwards is seen. Its own fetches add what any consumer's would.
 *
 * @example
 *   const probe = await startHopProbe(kafka, `${run}-probe`, hops);
 *   // ... produce ...
 *   probe.arrivals.get('silver')?.get(session); // performance.now() of first arrival
 */
export async function startHopProbe(kafka: KafkaClient, groupId: string, hops: Hop[]) {
  const arrivals = new Map(hops.map((h) => [h.name, new Map<string, number>()]));
  const byTopic = new Map(hops.map((h) => [h.topic, h]));
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  for (const h of hops) await consumer.subscribe({ topic: h.topic, fromBeginning: false });
  const joined = new Promise<void>((r) => consumer.on(consumer.events.GROUP_JOIN, () => r()));
  await consumer.run({
    // kafkajs' auto-commit commits after every batch, a round trip in front of the next fetch:
    // it made silver look 40 ms away when the whole path to the feed took 20.
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const at = performance.now();
      const hop = byTopic.get(batch.topic)!;
      const seen = arrivals.get(hop.name)!;
      for (const m of batch.messages) {
        const session = hop.sessionOf(m);
        if (session !== undefined && !seen.has(session)) seen.set(session, at);
      }
    },
  });
  await joined;
  return { arrivals, stop: () => consumer.disconnect() };
}
