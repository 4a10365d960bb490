import { readTopicRange } from '../admin/readTopicRange.ts';
import type { Config } from '../config/config.ts';
import { errorCode, SluiceError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import { ensureTopics } from '../kafka/ensureTopics.ts';
import { isFenced } from '../kafka/isFenced.ts';
import type { Producer } from '../kafka/kafkaTypes.ts';
import { type Incident, parseIncident } from './incident.ts';

/**
 * The incidents topic: compacted, one partition (every incident in one ordered log; they are few),
 * keyed `rule|subject`, JSON values; a tombstone forgets a resolved incident. Written in Kafka
 * transactions by the one evaluator (a transactional id per topic fences a second one), read
 * committed by everyone else.
 */

const log = createLogger('alerts');

/** Creates the incidents topic when missing (compacted, one partition). */
export async function ensureIncidentsTopic(kafka: KafkaClient, cfg: Config, topic = cfg.incidentsTopic): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [{ topic, partitions: 1, compacted: true }], {
      partitions: 1,
      replicationFactor: cfg.topicReplication,
    });
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Reads the incidents topic to its end: the latest incident per key (tombstones forget). A record
 * that is not an incident is skipped with `SLUICE_ERR_INCIDENT_INVALID`. A missing topic is empty.
 *
 * @example const incidents = await readIncidents(kafka, 'sluice.incidents');
 */
export async function readIncidents(
  kafka: KafkaClient,
  topic: string,
  opts: { signal?: AbortSignal } = {},
): Promise<Map<string, Incident>> {
  const latest = new Map<string, Incident>();
  const admin = kafka.admin();
  await admin.connect();
  const exists = await admin
    .listTopics()
    .then((t) => t.includes(topic))
    .finally(() => admin.disconnect().catch(() => {}));
  if (!exists) return latest;
  await readTopicRange(kafka, topic, {
    groupPrefix: 'sluice-incidents',
    signal: opts.signal,
    onRecord: (r) => applyRecord(latest, r.key, r.value, { topic, partition: r.partition, offset: r.offset }),
  });
  return latest;
}

/** One record of the topic into the latest-per-key map. */
export function applyRecord(
  latest: Map<string, Incident>,
  key: Buffer | null,
  value: Buffer | null,
  coordinates: { topic: string; partition: number; offset: string },
): void {
  const k = key?.toString('utf8');
  if (!k) return;
  if (value === null) {
    latest.delete(k);
    return;
  }
  const incident = parseIncident(value);
  if (incident && incident.key === k) latest.set(k, incident);
  else log.warn({ code: errorCode('INCIDENT_INVALID'), coordinates }, 'not an incident; skipped');
}

/** A record to write: an incident, or a tombstone for a key. */
export type IncidentRecord = { key: string; incident: Incident | null };

export interface IncidentWriter {
  /** Writes the records in one transaction; resolves once committed. Throws a SluiceError. */
  write(records: readonly IncidentRecord[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The evaluator's writer. Connecting initialises the transactional id `sluice-alerts.<topic>`,
 * which fences any earlier evaluator of the same topic: from then on its writes fail
 * (`SLUICE_ERR_ALERT_EVALUATOR_FENCED`) and it stops, so two evaluators never both write.
 *
 * @example
 *   const writer = await openIncidentWriter(kafka, 'sluice.incidents');
 *   await writer.write([{ key: incident.key, incident }]);
 */
export async function openIncidentWriter(kafka: KafkaClient, topic: string): Promise<IncidentWriter> {
  let producer: Producer | undefined;
  const connect = async (): Promise<Producer> => {
    const p = kafka.producer({ transactionalId: `sluice-alerts.${topic}` });
    await p.connect();
    const fence = await p.transaction(); // InitProducerId: the fence
    await fence.abort();
    return p;
  };
  producer = await connect();
  return {
    async write(records) {
      if (!records.length) return;
      producer ??= await connect();
      const tx = await producer.transaction();
      try {
        await tx.send({
          topic,
          acks: -1,
          messages: records.map((r) => ({
            key: r.key,
            value: r.incident ? JSON.stringify(r.incident) : null,
          })),
        });
        await tx.commit();
      } catch (err) {
        await tx.abort().catch(() => {});
        if (isFenced(err))
          throw new SluiceError('ALERT_EVALUATOR_FENCED', `another evaluator writes ${topic} now`, { cause: err });
        // A stuck transaction state: the next write starts from a new producer (which fences this one).
        const old = producer;
        producer = undefined;
        await old?.disconnect().catch(() => {});
        throw new SluiceError('INCIDENT_WRITE_FAILED', `writing incidents to ${topic}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
    async close() {
      await producer?.disconnect().catch(() => {});
      producer = undefined;
    },
  };
}
