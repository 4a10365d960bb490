import type { Config } from '../config/config.ts';
import { createLogger } from '../core/log.ts';
import { MapReferenceTable } from '../engine/referenceTable.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import type { TopologyDefinition } from '../topology/types.ts';
import { type ReferenceReader, startReferenceReader } from './referenceReader.ts';

const log = createLogger('runner');

/** Loads every reference table to the end of its topic and keeps it following the topic. */
export async function startReferenceTables(
  cfg: Config,
  kafka: KafkaClient,
  serde: AvroSerde,
  def: TopologyDefinition,
  onFatal: (err: unknown) => void,
): Promise<{ tables: Record<string, MapReferenceTable>; readers: ReferenceReader[] }> {
  const tables: Record<string, MapReferenceTable> = {};
  const readers: ReferenceReader[] = [];
  for (const [name, spec] of Object.entries(def.references ?? {})) {
    tables[name] = new MapReferenceTable();
    const reader = await startReferenceReader(cfg, kafka, serde, spec, tables[name], onFatal);
    readers.push(reader);
    await reader.ready;
    log.info({ topology: def.name, table: name, rows: tables[name].size }, 'reference table ready');
  }
  return { tables, readers };
}

/**
 * Before a batch, every reference table catches up with what its topic holds now: a row produced
 * before the batch was fetched is in the table when the batch's records are checked against it.
 * A table more than `timeoutMs` behind is used as it is (logged).
 *
 * One catch-up serves every batch of a fetch: asking the broker for the reference topics' end
 * offsets costs a round trip (1–2 ms, tens under load), and paid once per partition's batch it
 * added up to three round trips in front of a fetch's last batch. A catch-up asked for after the
 * consumer's n-th fetch response holds everything produced before that response, so it serves
 * any batch that arrived in fetch n or earlier. The runner reports each fetch response
 * (`fetched`, on the client's FETCH event, emitted before the response's batches are handed
 * over); a batch then reuses the last catch-up unless a fetch response came after it was asked.
 *
 * @example
 *   const refs = new ReferenceCatchUp(readers, 3000);
 *   consumer.on(consumer.events.FETCH, () => refs.fetched());
 *   await refs.beforeBatch({ topology, topic, partition }); // in each batch handler
 */
export class ReferenceCatchUp {
  readonly #readers: ReferenceReader[];
  readonly #timeoutMs: number;
  /** Fetch responses seen so far. */
  #fetches = 0;
  /** The last catch-up, with the number of fetch responses seen when it was asked for. */
  #last: { after: number; caughtUp: Promise<boolean> } | undefined;

  constructor(readers: ReferenceReader[], timeoutMs: number) {
    this.#readers = readers;
    this.#timeoutMs = timeoutMs;
  }

  /** A fetch response arrived: its batches need a catch-up asked for from now on. */
  fetched(): void {
    this.#fetches++;
  }

  async beforeBatch(where: { topology: string; topic: string; partition: number }): Promise<void> {
    if (!this.#readers.length) return;
    if (!this.#last || this.#last.after < this.#fetches) {
      const caughtUp = Promise.all(this.#readers.map((r) => r.catchUp(this.#timeoutMs))).then((all) =>
        all.every(Boolean),
      );
      this.#last = { after: this.#fetches, caughtUp };
      // A failed catch-up is not kept: the next batch asks again.
      caughtUp.catch(() => {
        if (this.#last?.caughtUp === caughtUp) this.#last = undefined;
      });
    }
    if (await this.#last.caughtUp) return;
    log.warn(
      where,
      `a reference table is more than ${this.#timeoutMs / 1000} s behind its topic; checking against what it holds`,
    );
  }
}
