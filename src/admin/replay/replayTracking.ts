import type { KafkaClient } from '../../kafka/createKafkaClient.ts';
import { readRange } from '../../kafka/readRange.ts';
import type { RawRecord } from '../readTopicRange.ts';
import type { DlqEntry } from './dlqEntry.ts';

/**
 * What was replayed already, kept in a compacted tracking topic keyed by
 * `<dlq>:<origin>:<replay count>`: a rerun skips what is tracked, so an interrupted replay
 * continues where it stopped and a finished one replays nothing.
 */

type EntryIdentity = Pick<DlqEntry, 'origTopic' | 'origPartition' | 'origOffset' | 'origin'> & {
  record: Pick<RawRecord, 'partition' | 'offset'>;
};

/**
 * Where the record first failed (`topic/partition/offset`): its origin header, else its error
 * headers, else its own DLQ coordinates.
 */
export function originOf(dlqTopic: string, e: EntryIdentity): string {
  if (e.origin) return e.origin;
  const known = e.origTopic !== undefined && e.origPartition !== undefined && e.origOffset !== undefined;
  return known
    ? `${e.origTopic}/${e.origPartition}/${e.origOffset}`
    : `${dlqTopic}/${e.record.partition}/${e.record.offset}`;
}

/** Tracking key: the origin plus the replay attempt (`<dlq>:<origin>:<count>`). */
export function trackingKey(dlqTopic: string, e: EntryIdentity & Pick<DlqEntry, 'replayCount'>): string {
  return `${dlqTopic}:${originOf(dlqTopic, e)}:${e.replayCount}`;
}

/** The same key without the attempt: "this record was replayed at least once". */
export function originKey(key: string): string {
  return key.slice(0, key.lastIndexOf(':'));
}

/** The tracking keys of one DLQ: loaded from the tracking topic, grown as records are handled. */
export class ReplayTracking {
  private readonly keys: Set<string>;
  private readonly origins: Set<string>;

  constructor(keys: Iterable<string>) {
    this.keys = new Set(keys);
    this.origins = new Set([...this.keys].map(originKey));
  }

  /** Reads the tracking topic in full (when it exists): the keys of records already replayed from this DLQ. */
  static async load(kafka: KafkaClient, trackingTopic: string, dlqTopic: string, exists: boolean) {
    const tracked = new Set<string>();
    if (exists) {
      const prefix = `${dlqTopic}:`;
      await readRange(
        kafka,
        trackingTopic,
        (r) => {
          const key = r.key?.toString('utf8');
          if (!key?.startsWith(prefix)) return;
          if (r.value === null) tracked.delete(key);
          else tracked.add(key);
        },
        { purpose: `loading what was replayed from ${dlqTopic}` },
      );
    }
    return new ReplayTracking(tracked);
  }

  get size(): number {
    return this.keys.size;
  }

  /**
   * By default a record replayed once is done with (a second run changes nothing); with
   * `retryFailed`, each new failure of it is another attempt, up to the maximum.
   */
  isDone(key: string, retryFailed: boolean | undefined): boolean {
    return retryFailed ? this.keys.has(key) : this.origins.has(originKey(key));
  }

  /** Marks a record handled, so the same record twice in the DLQ (redelivered) is replayed once. */
  add(key: string): void {
    this.keys.add(key);
    this.origins.add(originKey(key));
  }
}
