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
 */
export async function catchUpReferences(
  readers: ReferenceReader[],
  timeoutMs: number,
  where: { topology: string; topic: string; partition: number },
): Promise<void> {
  if (!readers.length) return;
  const caughtUp = await Promise.all(readers.map((r) => r.catchUp(timeoutMs)));
  if (caughtUp.every(Boolean)) return;
  log.warn(
    where,
    `a reference table is more than ${timeoutMs / 1000} s behind its topic; checking against what it holds`,
  );
}
