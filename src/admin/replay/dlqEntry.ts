import type { IHeaders } from '../../kafka/kafkaTypes.ts';
import { headersAsText } from '../headersAsText.ts';
import type { RawRecord } from '../readTopicRange.ts';

/**
 * A dead letter as `replay-dlq` sees it: the error headers the runner (or Kafka Connect) wrote,
 * parsed; and the headers a replayed record carries instead.
 */

/** How many times the record was replayed already. */
export const REPLAY_COUNT_HEADER = 'sluice.replay.count';
/**
 * The record's identity across replays: where it first failed. A replayed record that fails again
 * comes back to the DLQ at new coordinates, but with the origin header its first replay set.
 */
export const ORIGIN_HEADER = 'sluice.replay.origin';

/** A DLQ record with its error headers parsed. */
export interface DlqEntry {
  record: RawRecord;
  headers: Record<string, string>;
  origTopic?: string;
  origPartition?: number;
  origOffset?: string;
  /** `topic/partition/offset` of the record's first failure, carried through every replay. */
  origin?: string;
  replayCount: number;
  failedAt: number;
}

/** The record with its error headers read (Sluice's, else Kafka Connect's). */
export function parseDlqEntry(record: RawRecord): DlqEntry {
  const h = headersAsText(record.headers);
  const origTopic = h['sluice.error.topic'] || h['__connect.errors.topic'] || undefined;
  const partition = h['sluice.error.partition'] || h['__connect.errors.partition'];
  const offset = h['sluice.error.offset'] || h['__connect.errors.offset'];
  const count = Number(h[REPLAY_COUNT_HEADER] ?? 0);
  const failedAt = Number(h['sluice.error.timestamp']);
  return {
    record,
    headers: h,
    origTopic,
    origPartition: partition && /^\d+$/.test(partition) ? Number(partition) : undefined,
    origOffset: offset && /^\d+$/.test(offset) ? offset : undefined,
    origin: h[ORIGIN_HEADER] || undefined,
    replayCount: Number.isInteger(count) && count > 0 ? count : 0,
    failedAt: Number.isFinite(failedAt) && h['sluice.error.timestamp'] ? failedAt : record.timestamp,
  };
}

/**
 * The original headers without the DLQ's error headers, with the replay count increased.
 *
 * @example replayHeaders(record.headers, entry.replayCount, 'oltp.customers/0/42')
 */
export function replayHeaders(headers: IHeaders, previousCount: number, origin?: string): IHeaders {
  const out: IHeaders = {};
  if (origin !== undefined) out[ORIGIN_HEADER] = origin;
  for (const [k, v] of Object.entries(headers)) {
    if (
      v === undefined ||
      k.startsWith('sluice.error.') ||
      k.startsWith('__connect.errors.') ||
      k === REPLAY_COUNT_HEADER ||
      (k === ORIGIN_HEADER && origin !== undefined)
    )
      continue;
    out[k] = v;
  }
  out[REPLAY_COUNT_HEADER] = String(previousCount + 1);
  return out;
}
