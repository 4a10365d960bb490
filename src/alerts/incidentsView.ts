import { randomBytes } from 'node:crypto';
import { errorCode } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { Consumer } from '../kafka/kafkaTypes.ts';
import { feedConsumer } from '../feed/feedConsumer.ts';
import { tailMetricTopics } from '../feed/tailConsumer.ts';
import type { Incident } from './incident.ts';
import { applyRecord } from './incidentStore.ts';
import { sortIncidents } from './incidentTracker.ts';

/** A change of the view: an incident's latest record, or its key forgotten (a tombstone). */
export type ViewChange = { incident: Incident } | { removed: string };

export interface IncidentsView {
  /** Every incident the topic holds now, open first. */
  list(): Incident[];
  /** Called for each record read, in topic order. */
  onChange(listener: (change: ViewChange) => void): () => void;
  close(): Promise<void>;
}

const log = createLogger('alerts');

/**
 * A live, read-only view of the incidents topic for the dashboard feed: a consumer in a throwaway
 * group (never committing, read committed) reads it from the beginning and then follows it,
 * keeping the latest incident per key. Until the topic exists (no evaluator has run yet) it looks
 * again every `retryMs`; a crashed consumer is rebuilt from the beginning. Never throws.
 *
 * @example
 *   const view = createIncidentsView(kafka, 'sluice.incidents');
 *   view.onChange((c) => broadcast(c));
 */
export function createIncidentsView(kafka: KafkaClient, topic: string, opts: { retryMs?: number } = {}): IncidentsView {
  const retryMs = opts.retryMs ?? 5_000;
  const latest = new Map<string, Incident>();
  const listeners = new Set<(c: ViewChange) => void>();
  let consumer: Consumer | undefined;
  let generation = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  /** The start under way: close() waits for it, so a consumer it connects is never left running. */
  let starting: Promise<void> | undefined;
  const begin = () => {
    starting = start();
  };
  const later = () => {
    if (!closed) timer = setTimeout(begin, retryMs);
  };
  const start = async () => {
    const gen = ++generation;
    const isCurrent = () => gen === generation && !closed;
    try {
      const admin = kafka.admin();
      await admin.connect();
      const meta = await admin
        .fetchTopicMetadata({ topics: [topic] })
        .catch(() => undefined)
        .finally(() => admin.disconnect().catch(() => {}));
      const partitions = meta?.topics[0]?.partitions.length ?? 0;
      if (!partitions || !isCurrent()) return later();
      latest.clear(); // read from the beginning again: the topic is the truth
      consumer = feedConsumer(kafka, `sluice-incidents-view-${randomBytes(6).toString('hex')}`);
      await tailMetricTopics(consumer, new Map([[topic, partitions]]), {
        isCurrent,
        positionOf: () => undefined,
        prepare: async () => {},
        apply: (batch) => {
          for (const m of batch.messages) {
            const coordinates = { topic, partition: batch.partition, offset: m.offset };
            const key = m.key?.toString('utf8');
            applyRecord(latest, m.key, m.value, coordinates);
            if (!key) continue;
            const incident = latest.get(key);
            const change: ViewChange = incident ? { incident } : { removed: key };
            for (const l of listeners) l(change);
          }
        },
        pace: async () => {},
        passed: () => {},
        crashed: (error) => {
          log.warn(
            { code: errorCode('KAFKA_CONSUMER_CRASHED'), err: error.message },
            'incidents view consumer crashed',
          );
          void restart();
        },
      });
    } catch (err) {
      if (!isCurrent()) return;
      log.warn({ code: errorCode('KAFKA_CONNECT_FAILED'), err: (err as Error).message }, 'incidents view not reading');
      await restart();
    }
  };
  const restart = async () => {
    generation++;
    const old = consumer;
    consumer = undefined;
    await old?.disconnect().catch(() => {});
    later();
  };
  begin();

  return {
    list: () => sortIncidents([...latest.values()]),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      generation++;
      clearTimeout(timer);
      listeners.clear();
      await starting?.catch(() => {});
      await consumer?.disconnect().catch(() => {});
    },
  };
}
