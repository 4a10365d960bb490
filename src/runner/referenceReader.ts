import { randomBytes } from 'node:crypto';
import type { Config } from '../config/config.ts';
import { isSluiceError, SluiceError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { type MapReferenceTable, referenceKey } from '../engine/referenceTable.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { Admin, Consumer } from '../kafka/kafkaTypes.ts';
import { fetchEndOffsets, type RangeRecord, readRange } from '../kafka/readRange.ts';
import { retryKafka } from '../kafka/retryKafka.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import type { ReferenceSpec } from '../topology/types.ts';

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
   * follower that is a fetch behind would reject it. "Held" is what read_committed readers see
   * (up to the last stable offset): a transaction whose commit markers are not yet written is not
   * waited for, or every batch would wait out the open transaction of the topic's writer.
   */
  catchUp(timeoutMs?: number): Promise<boolean>;
  stop(): Promise<void>;
}

/** What the parts of a reader share: its topic and table, and how far the table has read. */
interface Reader {
  serde: AvroSerde;
  spec: ReferenceSpec;
  table: MapReferenceTable;
  position: TablePosition;
  /** End offset per partition when the reader started: the load reads up to it, the follower on from it. */
  loadEnds: Map<number, bigint>;
}

/**
 * Starts a reader of `spec.topic` into `table`. The table is loaded by `readRange` up to the end
 * offsets the topic has now; meanwhile a follower joins its own group at those offsets and
 * takes over once the load is done. Throws if the follower cannot subscribe.
 *
 * @example
 *   const reader = await startReferenceReader(cfg, kafka, serde, { topic: 'silver.products', key: 'id' }, table);
 *   await reader.ready;
 */
export async function startReferenceReader(
  _cfg: Config,
  kafka: KafkaClient,
  serde: AvroSerde,
  spec: ReferenceSpec,
  table: MapReferenceTable,
  onFatal?: (err: unknown) => void,
): Promise<ReferenceReader> {
  const ends = await fetchEndOffsets(kafka, spec.topic);
  const loadEnds = new Map(ends.map((p) => [p.partition, BigInt(p.high)]));
  const reader: Reader = { serde, spec, table, position: new TablePosition(), loadEnds };
  const stopping = new AbortController();
  const loaded = loadTable(kafka, reader, stopping.signal);
  loaded.catch(() => {}); // the outcome is reported through `ready`
  const readiness = new Readiness(spec.topic, onFatal);
  const onCrash = (err: SluiceError) => {
    if (!readiness.isReady) stopping.abort(err);
    readiness.fail(err);
  };
  const follower = await startFollower(kafka, reader, loaded, onCrash).catch(async (err) => {
    stopping.abort(err);
    await loaded.catch(() => {});
    throw err;
  });
  loaded.then(
    () => readiness.markReady(),
    (err) => {
      if (!stopping.signal.aborted) readiness.fail(err);
    },
  );
  const partitions = ends.filter((p) => BigInt(p.high) > BigInt(p.low)).length;
  log.info({ topic: spec.topic, partitions }, 'reference table loading');
  const offsets = new EndOffsets(kafka, spec.topic);
  return {
    ready: readiness.ready,
    catchUp: async (timeoutMs = 10_000) => reader.position.waitFor(await offsets.now(), timeoutMs),
    async stop() {
      stopping.abort();
      await loaded.catch(() => {});
      await follower.disconnect();
      await offsets.close();
    },
  };
}

/**
 * Puts one reference record into the table: keyed by the spec's key, a tombstone by the message
 * key; a delete record (op d) or a tombstone removes the key. False, with nothing put, if the
 * serde does not know the value's schema id (yet).
 */
export function applyRow(
  { serde, spec, table }: Pick<Reader, 'serde' | 'spec' | 'table'>,
  key: Buffer | null,
  value: Buffer | null,
): boolean {
  try {
    const v = value === null ? null : serde.decodeSync(value).value;
    const k = v === null ? key?.toString() : referenceKey(v, spec.key);
    // A delete record (op d, from CDC) forgets the row, as the tombstone after it does.
    if (k !== undefined) table.put(k, (v as { op?: unknown } | null)?.op === 'd' ? null : v);
  } catch (err) {
    if (isSluiceError(err, 'SERDE_UNKNOWN_SCHEMA')) return false;
    /* other undecodable reference rows are their own topology's DLQ business */
  }
  return true;
}

function crashedError(topic: string, cause: unknown): SluiceError {
  return new SluiceError(
    'KAFKA_CONSUMER_CRASHED',
    `reference table reader of ${topic} crashed and will not restart: ${(cause as Error | undefined)?.message}`,
    { cause },
  );
}

/** Reads the topic up to `loadEnds` into the table. */
async function loadTable(kafka: KafkaClient, reader: Reader, signal: AbortSignal): Promise<void> {
  const { serde, spec, position, loadEnds } = reader;
  const read = (r: RangeRecord) => {
    position.set(r.partition, BigInt(r.offset) + 1n);
    position.notify();
  };
  // Synchronous unless the record's schema id is new: most records then cost no await.
  const onRecord = (r: RangeRecord) => {
    if (applyRow(reader, r.key, r.value)) return read(r);
    return serde.prepare([r.value]).then(() => {
      applyRow(reader, r.key, r.value);
      read(r);
    });
  };
  try {
    await readRange(kafka, spec.topic, onRecord, { to: loadEnds, purpose: `loading ${spec.topic}`, signal });
  } catch (err) {
    throw isSluiceError(err, 'KAFKA_CONSUMER_CRASHED') ? crashedError(spec.topic, err.cause) : err;
  }
  // Read up to the end offsets, commit markers and empty partitions included.
  for (const [partition, end] of loadEnds) position.advance(partition, end);
  position.notify();
}

/**
 * The consumer that keeps the table current after the load. It joins its group and fetches from
 * the load's end offsets while the load runs, so taking over costs no group join and no fetch
 * wait; what it fetches meanwhile waits for the load (heartbeating, see `keepSessionAlive`).
 * Should kafkajs restart it (a new group session, from the beginning), it still applies nothing
 * the load read.
 */
async function startFollower(
  kafka: KafkaClient,
  reader: Reader,
  loaded: Promise<void>,
  onCrash: (err: SluiceError) => void,
): Promise<Consumer> {
  const { serde, spec, position, loadEnds } = reader;
  const loadSettled = loaded.then(
    () => true,
    () => false,
  );
  // A throwaway group id: the table is rebuilt from the beginning on every start, never committed.
  const consumer = kafka.consumer({ groupId: `sluice-ref-${spec.topic}-${randomBytes(4).toString('hex')}` });
  consumer.on(consumer.events.CRASH, (e) => {
    if ((e.payload as { restart?: boolean }).restart) return; // kafkajs restarts it
    onCrash(crashedError(spec.topic, e.payload.error));
  });
  // A reference topic written in transactions (silver.* under exactly-once) ends with commit
  // markers no eachBatch sees: kafkajs reports batches of only markers through this event.
  // One that comes during the load counts once the load is done.
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    const { partition, lastOffset } = e.payload;
    if (lastOffset === null) return;
    loadSettled.then((ok) => {
      if (!ok) return;
      position.advance(partition, BigInt(lastOffset) + 1n);
      position.notify();
    });
  });
  try {
    await retryKafka(async () => {
      await consumer.connect();
      await consumer.subscribe({ topic: spec.topic, fromBeginning: true });
    }, `subscribing to the reference topic ${spec.topic}`);
    const running = consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (!(await loadSettled)) return;
        const from = loadEnds.get(batch.partition) ?? 0n;
        const fresh = batch.messages.filter((m) => BigInt(m.offset) >= from);
        await serde.prepare(fresh.map((m) => m.value));
        for (const m of fresh) {
          applyRow(reader, m.key, m.value);
          position.set(batch.partition, BigInt(m.offset) + 1n);
        }
        position.notify();
      },
    });
    // Seeks made before the group is joined are applied at the first fetch.
    for (const [partition, offset] of loadEnds) consumer.seek({ topic: spec.topic, partition, offset: String(offset) });
    await running;
  } catch (err) {
    await consumer.disconnect().catch(() => {});
    throw err;
  }
  return consumer;
}

/** How far the table has read each partition, and the `catchUp` calls waiting for it. */
class TablePosition {
  readonly #next = new Map<number, bigint>();
  readonly #waiters = new Set<{ ends: Map<number, bigint>; done: () => void }>();

  /** The record before `next` is in the table (a re-read after a restart moves this back). */
  set(partition: number, next: bigint): void {
    this.#next.set(partition, next);
  }

  /** Everything before `next` is read, markers included: only moves forward. */
  advance(partition: number, next: bigint): void {
    if (next > (this.#next.get(partition) ?? 0n)) this.#next.set(partition, next);
  }

  holds(ends: Map<number, bigint>): boolean {
    return [...ends].every(([p, high]) => (this.#next.get(p) ?? 0n) >= high);
  }

  /** Releases the waiters whose end offsets the table now holds. */
  notify(): void {
    for (const w of [...this.#waiters]) if (this.holds(w.ends)) w.done();
  }

  /** True once the table holds `ends`; false if that takes longer than `timeoutMs`. */
  waitFor(ends: Map<number, bigint>, timeoutMs: number): Promise<boolean> {
    if (this.holds(ends)) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const waiter = {
        ends,
        done: () => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        resolve(false);
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }
}

/** `ready` of a reader, and where a crash goes: rejecting `ready` before it resolved, `onFatal` after. */
class Readiness {
  readonly ready: Promise<void>;
  isReady = false;
  #failed = false;
  #resolve: () => void = () => {};
  #reject: (err: unknown) => void = () => {};
  readonly #topic: string;
  readonly #onFatal?: (err: unknown) => void;

  constructor(topic: string, onFatal?: (err: unknown) => void) {
    this.#topic = topic;
    this.#onFatal = onFatal;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.ready.catch(() => {}); // the caller awaits `ready`; this only keeps an early crash from being "unhandled"
  }

  markReady(): void {
    if (this.#failed) return;
    this.isReady = true;
    this.#resolve();
  }

  fail(err: unknown): void {
    if (!this.isReady) {
      this.#failed = true;
      this.#reject(err);
    } else if (this.#onFatal) this.#onFatal(err);
    else {
      const code = (err as SluiceError).code;
      log.error({ code, topic: this.#topic, err: (err as Error).message }, 'reference table reader stopped');
    }
  }
}

/** The topic's end offsets now (partitions with something to read), through one admin connected on first use. */
class EndOffsets {
  #admin: Promise<Admin> | undefined;
  readonly #kafka: KafkaClient;
  readonly #topic: string;

  constructor(kafka: KafkaClient, topic: string) {
    this.#kafka = kafka;
    this.#topic = topic;
  }

  async now(): Promise<Map<number, bigint>> {
    this.#admin ??= (async () => {
      const a = this.#kafka.admin();
      await a.connect();
      return a;
    })();
    const admin = await this.#admin;
    const offsets = await retryKafka(
      () => admin.fetchTopicOffsets(this.#topic),
      `end offsets of the reference topic ${this.#topic}`,
    );
    return new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]));
  }

  async close(): Promise<void> {
    await (await this.#admin?.catch(() => undefined))?.disconnect().catch(() => {});
  }
}
