import { dedupeChangelogTopic } from '../topology/rules.ts';
import type { Ack, Envelope, Output, Rule } from '../topology/types.ts';

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
 * - The ids a batch accepts go to the changelog together, one record per source partition per
 *   `flush` (the runner's tick after each batch, or when a partition needs room): a record per
 *   id doubled the records every input produced — half the producer's work for a few bytes each.
 *   Key `<topic>#<offset of its first record>` (unique, so compaction keeps every batch; time
 *   retention drops them), value `{"ids": [[id, eventTime, origin], …]}`, timestamp the newest
 *   event time in it. Restore reads both this and the former one-record-per-id layout
 *   (`<topic>|<id>` → `{"t", "o"}`) in log order, so a later acceptance of an id wins.
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
  /** Records `env`'s id as accepted (its ack waits for the changelog write of the next `flush`). */
  accept(env: Envelope<unknown>, id: string): void;
  /** Writes the ids accepted since the last flush to the changelog, one record per source partition. */
  flush(): void;
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
  /** Accepted since the last flush: written together, their acks held until then. */
  pending: Pending | undefined;
}
interface Pending {
  entries: [string, number, string][];
  acks: Ack[];
  first: Envelope<unknown>;
  newest: number;
  bytes: number;
}

/** One changelog record holds at most this much (well under Kafka's default 1 MiB message). */
const MAX_PENDING_ENTRIES = 2_000;
const MAX_PENDING_BYTES = 256 * 1024;

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
    byPartition[p] ??= { ids: new Map(), newest: -Infinity, sinceSweep: 0, pending: undefined };
    return byPartition[p];
  };
  const withPending = new Set<PartitionIds>();
  const write = (s: PartitionIds) => writePending(s, changelog, emit);

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
      // The changelog record's timestamp is the newest event time it holds, so the topic's time
      // retention (set beyond the window) drops ids by event time.
      const batch = (s.pending ??= { entries: [], acks: [], first: env, newest: t, bytes: 0 });
      withPending.add(s);
      batch.entries.push([id, t, o]);
      env.ack.retain();
      batch.acks.push(env.ack);
      if (t > batch.newest) batch.newest = t;
      batch.bytes += id.length + o.length + 24;
      if (batch.entries.length >= MAX_PENDING_ENTRIES || batch.bytes >= MAX_PENDING_BYTES) write(s);
    },
    flush() {
      for (const s of withPending) write(s);
      withPending.clear();
    },
    restore(p, key, value) {
      const restored = parseChangelogRecord(key, value);
      if (!restored) return;
      const s = partOf(restored.topic, p);
      for (const [id, e] of restored.entries) {
        if (e === null) s.ids.delete(id);
        else {
          s.ids.set(id, e);
          if (e.t > s.newest) s.newest = e.t;
        }
      }
    },
    reset() {
      // Whatever waited for a flush is derived again from the re-delivered records.
      for (const s of withPending) s.pending = undefined;
      withPending.clear();
      parts.clear();
    },
  };
}

/**
 * A changelog record as (id, entry) pairs of its source topic; a null entry forgets the id (a
 * tombstone of the per-id layout). Topic names hold neither '#' nor '|': the first of them in
 * the key says which layout it has.
 */
function parseChangelogRecord(
  key: string,
  value: Buffer | null,
): { topic: string; entries: [string, Entry | null][] } | undefined {
  const batchAt = key.indexOf('#');
  const idAt = key.indexOf('|');
  if (batchAt >= 0 && (idAt < 0 || batchAt < idAt)) {
    if (value === null) return undefined;
    const { ids } = JSON.parse(value.toString()) as { ids: [string, number, string][] };
    return { topic: key.slice(0, batchAt), entries: ids.map(([id, t, o]) => [id, { t, o }]) };
  }
  if (idAt < 0) return undefined;
  const entry = value === null ? null : (JSON.parse(value.toString()) as Entry);
  return { topic: key.slice(0, idAt), entries: [[key.slice(idAt + 1), entry]] };
}

/** The ids a partition accepted since the last flush, as one changelog record holding their acks. */
function writePending(s: PartitionIds, changelog: string, emit: (o: Output) => void): void {
  const batch = s.pending;
  if (!batch) return;
  s.pending = undefined;
  const { topic, partition, offset } = batch.first.source;
  emit({
    kind: 'changelog',
    topic: changelog,
    key: `${topic}#${offset}`,
    value: Buffer.from(JSON.stringify({ ids: batch.entries })),
    raw: true,
    partition,
    acks: batch.acks,
    timestamp: batch.newest,
    source: batch.first.source,
  });
  // The emit holds the acks now; the hold taken at acceptance ends.
  for (const a of batch.acks) a.release();
}
