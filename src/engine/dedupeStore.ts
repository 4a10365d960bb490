import { dedupeChangelogTopic } from '../topology/rules.ts';
import type { Envelope, Output, Rule } from '../topology/types.ts';

/**
 * The durable state of a `uniqueWithin` rule: the ids accepted per source partition, each with
 * its event time and its origin (the coordinates of the record accepted with it), in a compacted
 * changelog co-partitioned with the source. Restored on every assignment like window state, so a
 * duplicate that straddles a restart or a rebalance is still a duplicate, and read by
 * `replay-dlq` so a dead letter rejected as a duplicate stays one.
 *
 * - The window is event time: an id is a duplicate of an accepted one when their event times are
 *   at most `windowMs` apart; entries older than the partition's newest event time minus the
 *   window are forgotten (memory is bounded by the window).
 * - Scope: one source partition. Duplicates are found when they share the partition, i.e. when
 *   the topic's key determines the id (clicks keyed by session); repartition first otherwise.
 * - The record that was accepted stays accepted: when it is re-delivered (after a crash, before
 *   its offset was committed) or replayed, its origin matches and it passes again.
 * - An id is recorded only once its record passed every rule of the `validate` step, and the
 *   record's ack waits for that changelog write (commit-after-durable for state).
 */
export interface DedupeSpec {
  windowMs: number;
  /** Event time of a value (ms); default: the record's Kafka timestamp. */
  eventTime?: (value: unknown) => number;
}

export interface DedupeStore {
  readonly rule: string;
  readonly changelog: string;
  /** The problem when `env` duplicates an accepted record, else undefined. Changes nothing. */
  check(env: Envelope<unknown>, id: string): string | undefined;
  /** Records `env`'s id as accepted (its ack waits for the changelog write). */
  accept(env: Envelope<unknown>, id: string): void;
  restore(partition: number, key: string, value: Buffer | null): void;
  reset(): void;
}

/** Where a record first came from: the replay origin header, else its own coordinates. */
export function originOfRecord(env: Envelope<unknown>): string {
  const s = env.source;
  return s.headers['sluice.replay.origin'] || `${s.topic}/${s.partition}/${s.offset}`;
}

interface Entry {
  t: number;
  o: string;
}
interface PartitionIds {
  ids: Map<string, Entry>;
  newest: number;
  sinceSweep: number;
}

export function createDedupeStore(
  topology: string,
  rule: Rule & { dedupe: DedupeSpec },
  emit: (o: Output) => void,
): DedupeStore {
  const changelog = dedupeChangelogTopic(topology, rule);
  const { windowMs } = rule.dedupe;
  const eventTime = rule.dedupe.eventTime;
  // Source topic → partition → ids: a rule validating two topics keeps their ids apart.
  // By topic, then partition: no key string built per record.
  const parts = new Map<string, PartitionIds[]>();
  const partOf = (topic: string, p: number) => {
    let byPartition = parts.get(topic);
    if (!byPartition) {
      byPartition = [];
      parts.set(topic, byPartition);
    }
    byPartition[p] ??= { ids: new Map(), newest: -Infinity, sinceSweep: 0 };
    return byPartition[p];
  };
  const timeOf = (env: Envelope<unknown>) => {
    const t = eventTime ? eventTime(env.value) : env.source.timestamp;
    return Number.isFinite(t) ? t : env.source.timestamp;
  };
  // Forget what the window has passed, now and then (a sweep costs one pass over the ids).
  const sweep = (s: PartitionIds) => {
    if (++s.sinceSweep < 10_000) return;
    s.sinceSweep = 0;
    for (const [id, e] of s.ids) if (e.t < s.newest - windowMs) s.ids.delete(id);
  };

  return {
    rule: rule.name,
    changelog,
    check(env, id) {
      const e = partOf(env.source.topic, env.source.partition).ids.get(id);
      if (!e || Math.abs(timeOf(env) - e.t) > windowMs || e.o === originOfRecord(env)) return undefined;
      return `duplicate ${rule.field ?? 'id'}=${id}: accepted from ${e.o} within ${windowMs}ms of event time`;
    },
    accept(env, id) {
      const s = partOf(env.source.topic, env.source.partition);
      const t = timeOf(env);
      const o = originOfRecord(env);
      const had = s.ids.get(id);
      if (had && had.o === o) return; // re-delivered: already durable
      s.ids.set(id, { t, o });
      if (t > s.newest) s.newest = t;
      sweep(s);
      // The changelog record's timestamp is the event time, so the topic's time retention (set
      // beyond the window) drops ids by event time as compaction keeps the latest per id.
      emit({
        kind: 'changelog',
        topic: changelog,
        key: `${env.source.topic}|${id}`,
        value: Buffer.from(JSON.stringify({ t, o })),
        raw: true,
        partition: env.source.partition,
        acks: [env.ack],
        timestamp: t,
        source: env.source,
      });
    },
    restore(p, key, value) {
      const i = key.indexOf('|');
      if (i < 0) return;
      const s = partOf(key.slice(0, i), p);
      const id = key.slice(i + 1);
      if (value === null) {
        s.ids.delete(id);
        return;
      }
      const e = JSON.parse(value.toString()) as Entry;
      s.ids.set(id, e);
      if (e.t > s.newest) s.newest = e.t;
    },
    reset() {
      parts.clear();
    },
  };
}
