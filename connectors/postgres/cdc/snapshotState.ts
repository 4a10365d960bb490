import type { KafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { readToEnd } from '../../../src/kafka/readRange.ts';
import type { CdcConnection } from './cdcConnection.ts';
import { formatLsn, parseLsn } from './lsn.ts';

/**
 * Which slots finished their initial snapshot: a compacted topic, key `<database>/<slot>`, JSON
 * value `{"snapshotLsn": "X/Y"}` written only after every snapshot record is acknowledged. A
 * slot without it may have crashed mid-snapshot: the rows not yet published would never come,
 * so the source drops that slot and snapshots again.
 */

export function stateKey(database: string, slot: string): string {
  return `${database}/${slot}`;
}

/** The snapshot LSN recorded for the slot, or undefined (none, or a tombstone). */
export async function readSnapshotDone(kafka: KafkaClient, topic: string, key: string): Promise<bigint | undefined> {
  let lsn: bigint | undefined;
  await readToEnd(kafka, topic, (_p, k, value) => {
    if (k !== key) return;
    try {
      lsn = value === null ? undefined : parseLsn(JSON.parse(value.toString('utf8')).snapshotLsn);
    } catch {
      lsn = undefined; // not ours to read: treated as no snapshot, which only costs a new one
    }
  });
  return lsn;
}

/** Records that the slot's snapshot is durable in Kafka. */
export async function writeSnapshotDone(conn: CdcConnection, topic: string, key: string, lsn: bigint): Promise<void> {
  await conn.produce([{ topic, messages: [{ key, value: JSON.stringify({ snapshotLsn: formatLsn(lsn) }) }] }]);
}
