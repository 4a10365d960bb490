import { randomBytes } from 'node:crypto';
import type { Config } from '../config/config.ts';
import type { KafkaClient } from '../kafka/kafka.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import type { ReferenceSpec } from '../topology/types.ts';
import { MapReferenceTable, referenceKey } from './referenceTable.ts';
import { createLogger } from '../core/log.ts';

const log = createLogger('reference');

/**
 * Reads a whole topic into a table and keeps following it (a GlobalKTable). Every runner reads
 * all partitions itself, so referential rules give the same answer whichever runner owns the
 * record. `ready` resolves once the table holds everything up to the end offsets seen at start.
 */
export async function startReferenceReader(cfg: Config, kafka: KafkaClient, serde: AvroSerde, spec: ReferenceSpec, table: MapReferenceTable) {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(spec.topic);
  await admin.disconnect();
  const target = new Map(ends.map((p) => [p.partition, BigInt(p.high)]));
  const position = new Map<number, bigint>();
  let markReady: () => void = () => {};
  const ready = new Promise<void>((r) => { markReady = r; });
  const check = () => { if ([...target].every(([p, high]) => high === 0n || (position.get(p) ?? 0n) >= high)) markReady(); };
  check();
  // A throwaway group id: the table is rebuilt from the beginning on every start, never committed.
  const consumer = kafka.consumer({ groupId: `sluice-ref-${spec.topic}-${randomBytes(4).toString('hex')}` });
  await consumer.connect();
  await consumer.subscribe({ topic: spec.topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      await serde.prepare(batch.messages.map((m) => m.value));
      for (const m of batch.messages) {
        try {
          const v = m.value === null ? null : serde.decodeSync(m.value).value;
          const k = v === null ? m.key?.toString() : referenceKey(v, spec.key);
          if (k !== undefined) table.put(k, v);
        } catch { /* undecodable reference rows are their own topology's DLQ business */ }
        position.set(batch.partition, BigInt(m.offset) + 1n);
      }
      check();
    },
  });
  log.info({ topic: spec.topic, partitions: target.size }, 'reference table loading');
  return { ready, stop: () => consumer.disconnect() };
}
