import { randomBytes } from 'node:crypto';
import type { Config } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { retryKafka } from '../kafka/retryKafka.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import type { ReferenceSpec } from '../topology/types.ts';
import { fetchEndOffsets } from '../kafka/readRange.ts';
import { MapReferenceTable, referenceKey } from '../engine/referenceTable.ts';
import { createLogger } from '../core/log.ts';

const log = createLogger('reference');

/**
 * Reads a whole topic into a table and keeps following it (a GlobalKTable). Every runner reads
 * all partitions itself, so referential rules give the same answer whichever runner owns the
 * record. `ready` resolves once the table holds everything up to the end offsets seen at start;
 * it rejects if the consumer crashes for good before that. A crash after that is handed to
 * `onFatal` (a table that silently stops following its topic would answer stale lookups).
 */
export interface ReferenceReader {
  /** Resolves once the table holds everything up to the end offsets the topic had at start. */
  ready: Promise<void>;
  /**
   * Waits until the table holds everything the topic held when this was called (false if that
   * took longer than `timeoutMs`). The runner calls it before each batch: a record may reference
   * a row produced just before it (an extract publishes customers, then their orders), and a
   * follower that is a fetch behind would reject it.
   */
  catchUp(timeoutMs?: number): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startReferenceReader(
  cfg: Config,
  kafka: KafkaClient,
  serde: AvroSerde,
  spec: ReferenceSpec,
  table: MapReferenceTable,
  onFatal?: (err: unknown) => void,
): Promise<ReferenceReader> {
  const ends = await fetchEndOffsets(kafka, spec.topic);
  // A partition with nothing left to read (empty, or everything deleted) counts as read.
  const target = new Map(ends.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]));
  const position = new Map<number, bigint>();
  const waiters: { ends: Map<number, bigint>; done: () => void }[] = [];
  const holds = (want: Map<number, bigint>) => [...want].every(([p, high]) => (position.get(p) ?? 0n) >= high);
  let markReady: () => void = () => {};
  let failBeforeReady: (err: unknown) => void = () => {};
  let isReady = false;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failBeforeReady = reject;
  });
  ready.catch(() => {}); // the caller awaits `ready`; this only keeps an early crash from being "unhandled"
  const check = () => {
    if (!isReady && holds(target)) {
      isReady = true;
      markReady();
    }
    for (const w of [...waiters]) if (holds(w.ends)) w.done();
  };
  check();
  // A throwaway group id: the table is rebuilt from the beginning on every start, never committed.
  const consumer = kafka.consumer({ groupId: `sluice-ref-${spec.topic}-${randomBytes(4).toString('hex')}` });
  consumer.on(consumer.events.CRASH, (e) => {
    if ((e.payload as { restart?: boolean }).restart) return; // kafkajs restarts it and re-reads from where it was
    const err = new SluiceError(
      'KAFKA_CONSUMER_CRASHED',
      `reference table reader of ${spec.topic} crashed and will not restart: ${e.payload.error?.message}`,
      { cause: e.payload.error },
    );
    if (!isReady) failBeforeReady(err);
    else if (onFatal) onFatal(err);
    else log.error({ code: err.code, topic: spec.topic, err: err.message }, 'reference table reader stopped');
  });
  // A reference topic written in transactions (silver.* under exactly-once) ends with commit
  // markers no eachBatch sees: kafkajs reports batches of only markers through this event.
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    if (e.payload.lastOffset === null) return;
    const next = BigInt(e.payload.lastOffset) + 1n;
    if (next > (position.get(e.payload.partition) ?? 0n)) position.set(e.payload.partition, next);
    check();
  });
  try {
    await retryKafka(async () => {
      await consumer.connect();
      await consumer.subscribe({ topic: spec.topic, fromBeginning: true });
    }, `subscribing to the reference topic ${spec.topic}`);
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        await serde.prepare(batch.messages.map((m) => m.value));
        for (const m of batch.messages) {
          try {
            const v = m.value === null ? null : serde.decodeSync(m.value).value;
            const k = v === null ? m.key?.toString() : referenceKey(v, spec.key);
            if (k !== undefined) table.put(k, v);
          } catch {
            /* undecodable reference rows are their own topology's DLQ business */
          }
          position.set(batch.partition, BigInt(m.offset) + 1n);
        }
        check();
      },
    });
  } catch (err) {
    await consumer.disconnect().catch(() => {});
    throw err;
  }
  log.info({ topic: spec.topic, partitions: target.size }, 'reference table loading');
  let admin: Promise<ReturnType<KafkaClient['admin']>> | undefined;
  async function catchUp(timeoutMs = 10_000): Promise<boolean> {
    admin ??= (async () => {
      const a = kafka.admin();
      await a.connect();
      return a;
    })();
    const a = await admin;
    const offsets = await retryKafka(
      () => a.fetchTopicOffsets(spec.topic),
      `end offsets of the reference topic ${spec.topic}`,
    );
    const want = new Map(
      offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]),
    );
    if (holds(want)) return true;
    return new Promise<boolean>((resolve) => {
      const w = {
        ends: want,
        done: () => {
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(w), 1);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        resolve(false);
      }, timeoutMs);
      waiters.push(w);
    });
  }
  return {
    ready,
    catchUp,
    async stop() {
      await consumer.disconnect();
      await (await admin?.catch(() => undefined))?.disconnect().catch(() => {});
    },
  };
}
