import type avro from 'avsc';
import { SluiceError } from '../core/errors.ts';
import type { Ack, Envelope, Output } from '../topology/types.ts';
import type { Aggregation } from './aggregations.ts';
import { assignWindows, type TimeWindow, type WindowKind } from './windowTypes.ts';
import { WatermarkTracker } from './watermarks.ts';

/**
 * A keyed event-time window aggregation with durable state.
 *
 * - Every window's accumulator is written to a compacted changelog topic (partition = the input
 *   partition) on each tick where it changed; an input record's ack is held until the changelog
 *   record carrying its contribution is durable, so its offset is committed only with the state
 *   it fed (commit-after-durable for state).
 * - Provisional results go out every `emitEveryMs` while a window is open and changed; exactly
 *   one final result when the watermark passes its end plus the grace period, then a tombstone.
 * - A record for a window that is already closed goes to `<topology>.late` with its lateness.
 * - The watermark is persisted per partition in the changelog, so a restart never reopens a
 *   closed window and a final result is only ever re-emitted with the same value.
 * - Each window remembers the last input offset it applied, and each partition the offset all of
 *   its state covers: records re-delivered after a restart (between the last offset commit and
 *   the crash) are recognised and not counted twice, nor sent to the late topic again.
 */
export interface WindowSpec<T, A, R> {
  /** State store name: the changelog topic is `sluice.<topology>.<store>.changelog`. */
  store: string;
  /** Output topic of the results (declared in the topology's outputs). */
  output: string;
  window: WindowKind;
  key(value: T): string;
  eventTime(value: T): number;
  aggregate: Aggregation<T, A>;
  result(key: string, window: TimeWindow, acc: A, meta: { final: boolean; emittedAt: number }): R;
  outOfOrdernessMs?: number;
  graceMs?: number;
  /** A partition with no records for this long stops holding the watermark back. */
  idleTimeoutMs?: number;
  /** Provisional results at most this often per window. */
  emitEveryMs?: number;
  /** The topic this window reads (its partitions are the state's partitions); default: any. */
  inputTopic?: string;
  /** Where late records go; default `<topology>.late`. */
  lateTopic?: string;
}

interface WindowState {
  group: string;
  start: number;
  end: number;
  acc: unknown;
  changed: boolean;
  resultPending: boolean;
  lastEmitAt: number;
  acks: Ack[];
  /** Last input offset applied to this window. */
  applied: bigint;
  /**
   * Behind a repartition topic: the last (upstream offset, copy) applied to this window per
   * upstream partition. Kept with the window in the changelog, so a copy that stage 1 re-sends
   * after a crash is recognised even when the partition checkpoint had not caught up yet.
   */
  up: Map<string, UpstreamPos>;
  /**
   * Session keys this session absorbed since it was last written. Its next changelog record
   * names them, so a restore that reads it drops them even if their tombstones (written right
   * after) did not survive the crash: the merged session already counts their contributions.
   */
  absorbed?: Set<string>;
}

interface UpstreamPos {
  offset: bigint;
  seq: number;
}

/** True when `pos` is not after `last`: that copy was applied already. */
function seenUpstream(last: UpstreamPos | undefined, pos: UpstreamPos): boolean {
  return last !== undefined && (pos.offset < last.offset || (pos.offset === last.offset && pos.seq <= last.seq));
}

function encodeUp(up: Map<string, UpstreamPos>): Record<string, string> | undefined {
  return up.size ? Object.fromEntries([...up].map(([k, v]) => [k, `${v.offset}:${v.seq}`])) : undefined;
}

function decodeUp(up: Record<string, string> | undefined): Map<string, UpstreamPos> {
  const out = new Map<string, UpstreamPos>();
  for (const [src, pos] of Object.entries(up ?? {})) {
    const [o, q] = pos.split(':');
    out.set(src, { offset: BigInt(o), seq: Number(q) });
  }
  return out;
}

interface PartitionState {
  windows: Map<string, WindowState>;
  /** Session windows by group key, so merging looks only at that key's sessions. */
  sessionsByGroup: Map<string, Set<string>>;
  /** Windows changed since the last tick: a light tick after each batch visits only these. */
  dirty: Set<string>;
  /**
   * Session keys merged away since the last tick. Their tombstones are written by the tick after
   * the merged session's record: a crash in between must never leave the old sessions deleted
   * and the merged one not yet written (their contributions would be lost).
   */
  merged: Set<string>;
  persistedWm: number;
  /** Every input up to this offset is in the durable state (restored from the checkpoint). */
  applied: bigint;
  lastOffset: bigint;
  persistedOffset: bigint;
  /**
   * Behind a repartition topic: the last (upstream offset, copy) applied per upstream partition.
   * Stage 1 re-sends what it processed after its last commit when it restarts; those copies get
   * new offsets here but old upstream positions, and must not be counted (or found late) twice.
   */
  upstream: Map<string, UpstreamPos>;
  upstreamChanged: boolean;
  /** The input topic of this partition (for the transaction of state-derived outputs). */
  topic?: string;
}

export interface WindowRuntime {
  topology: string;
  now(): number;
  emit(output: Output): void;
  outputSchema: { name: string; type: avro.Type };
  onLate?(store: string): void;
  onWindowsOpen?(store: string, open: number): void;
  onEmitDelay?(store: string, seconds: number): void;
  /**
   * The event-time tracker of an input topic, shared by every window reading it: records that
   * other windows' filters drop still move this one's event time (a repartition topic carries
   * all metrics, each window sees one).
   */
  tracker(topic: string, create: () => WatermarkTracker): WatermarkTracker;
}

export const WATERMARK_KEY = '__watermark__';

export function changelogTopic(topology: string, store: string): string {
  return `sluice.${topology}.${store}.changelog`;
}

export function lateTopic(topology: string): string {
  return `${topology}.late`;
}

export interface WindowOperator<T> {
  readonly store: string;
  readonly changelog: string;
  readonly inputTopic?: string;
  readonly lateTopic: string;
  push(env: Envelope<T>): void;
  /**
   * Time passes. A full tick (the timer's) visits every window and closes those the watermark
   * passed; a light one (after each batch) visits only changed windows. Both write the checkpoint.
   */
  tick(full?: boolean): void;
  restore(partition: number, key: string, value: Buffer | null): void;
  /**
   * Forget every partition's state before a restore: after an assignment the state of each owned
   * partition is rebuilt from its changelog alone (records not yet in it are re-delivered from the
   * committed offsets), and partitions no longer owned live on in the changelog.
   */
  reset(): void;
  openWindows(): number;
}

export function createWindowOperator<T, A, R>(spec: WindowSpec<T, A, R>, rt: WindowRuntime): WindowOperator<T> {
  const grace = spec.graceMs ?? 0;
  const emitEvery = spec.emitEveryMs ?? 1000;
  const newTracker = () => new WatermarkTracker(spec.outOfOrdernessMs ?? 5000, spec.idleTimeoutMs ?? 30_000);
  let tracker: WatermarkTracker | undefined = spec.inputTopic ? rt.tracker(spec.inputTopic, newTracker) : undefined;
  let restoredWm = -Infinity;
  const trackerOf = (topic: string) => {
    if (!tracker) {
      tracker = rt.tracker(topic, newTracker);
      tracker.restore(restoredWm);
    }
    return tracker;
  };
  const changelog = changelogTopic(rt.topology, spec.store);
  const partitions = new Map<number, PartitionState>();
  const storeKey = (start: number, group: string) => `${start}|${group}`;

  function partition(p: number): PartitionState {
    let s = partitions.get(p);
    if (!s) {
      s = {
        windows: new Map(),
        sessionsByGroup: new Map(),
        dirty: new Set(),
        merged: new Set(),
        persistedWm: -Infinity,
        applied: -1n,
        lastOffset: -1n,
        persistedOffset: -1n,
        upstream: new Map(),
        upstreamChanged: false,
      };
      partitions.set(p, s);
    }
    return s;
  }

  function closeAt(w: { end: number }): number {
    return w.end + grace;
  }

  function setWindow(state: PartitionState, key: string, w: WindowState): void {
    state.windows.set(key, w);
    state.merged.delete(key);
    if (spec.window.kind !== 'session') return;
    let keys = state.sessionsByGroup.get(w.group);
    if (!keys) {
      keys = new Set();
      state.sessionsByGroup.set(w.group, keys);
    }
    keys.add(key);
  }

  function deleteWindow(state: PartitionState, key: string): void {
    const w = state.windows.get(key);
    if (!w) return;
    state.windows.delete(key);
    const keys = state.sessionsByGroup.get(w.group);
    if (keys) {
      keys.delete(key);
      if (!keys.size) state.sessionsByGroup.delete(w.group);
    }
  }

  function sessionsOf(state: PartitionState, group: string): [string, WindowState][] {
    return [...(state.sessionsByGroup.get(group) ?? [])].map((k) => [k, state.windows.get(k)!]);
  }

  function txnOf(p: number): string | undefined {
    const topic = spec.inputTopic ?? partitions.get(p)?.topic;
    return topic === undefined ? undefined : `${topic}/${p}`;
  }

  function emitChangelog(p: number, key: string, value: unknown, acks: Ack[]): void {
    rt.emit({
      topic: changelog,
      key,
      value: value === null ? null : Buffer.from(JSON.stringify(value)),
      raw: true,
      partition: p,
      acks,
      txn: txnOf(p),
    });
  }

  function emitResult(p: number, w: WindowState, final: boolean, now: number): void {
    const value = spec.result(w.group, { start: w.start, end: w.end }, w.acc as A, { final, emittedAt: now });
    if (!rt.outputSchema.type.isValid(value))
      throw new SluiceError(
        'SERDE_ENCODE_FAILED',
        `window store ${spec.store}: result does not match ${rt.outputSchema.name}`,
      );
    rt.emit({
      topic: spec.output,
      key: storeKey(w.start, w.group),
      value,
      schemaSubjectTopic: rt.outputSchema.name,
      acks: [],
      timestamp: now,
      txn: txnOf(p),
    });
    w.lastEmitAt = now;
    w.resultPending = false;
  }

  function late(env: Envelope<T>, eventTime: number, windowEnd: number, wm: number): void {
    rt.onLate?.(spec.store);
    rt.emit({
      topic: spec.lateTopic ?? lateTopic(rt.topology),
      key: env.source.key,
      value: env.source.value,
      raw: true,
      headers: {
        ...env.source.headers,
        'sluice.late.store': spec.store,
        'sluice.late.event.time': String(eventTime),
        'sluice.late.window.end': String(windowEnd),
        'sluice.late.watermark': String(wm),
        'sluice.late.lateness.ms': String(wm - (windowEnd + grace)),
        'sluice.late.source.topic': env.source.topic,
        'sluice.late.source.partition': String(env.source.partition),
        'sluice.late.source.offset': env.source.offset,
      },
      acks: [env.ack],
      timestamp: env.source.timestamp,
      source: env.source,
    });
  }

  function addTo(
    state: PartitionState,
    w: TimeWindow,
    group: string,
    value: T,
    ack: Ack,
    offset: bigint,
    src: string,
    pos: UpstreamPos | undefined,
  ): void {
    const k = storeKey(w.start, group);
    let win = state.windows.get(k);
    if (!win) {
      win = {
        group,
        start: w.start,
        end: w.end,
        acc: spec.aggregate.init(),
        changed: true,
        resultPending: true,
        lastEmitAt: -Infinity,
        acks: [],
        applied: -1n,
        up: new Map(),
      };
      setWindow(state, k, win);
    }
    if (offset <= win.applied) return; // already in this window's restored state
    if (pos) {
      if (seenUpstream(win.up.get(src), pos)) return; // a copy re-sent by stage 1, applied before the crash
      win.up.set(src, pos);
    }
    win.applied = offset;
    state.dirty.add(k);
    win.acc = spec.aggregate.add(win.acc as A, value);
    win.changed = true;
    win.resultPending = true;
    ack.retain();
    win.acks.push(ack);
  }

  function addToSession(
    state: PartitionState,
    ts: number,
    group: string,
    value: T,
    ack: Ack,
    gap: number,
    offset: bigint,
    src: string,
    pos: UpstreamPos | undefined,
  ): void {
    const sessions = sessionsOf(state, group);
    for (const [, w] of sessions) {
      if (ts < w.start || ts >= w.end) continue;
      if (offset <= w.applied || (pos && seenUpstream(w.up.get(src), pos))) return; // already applied
    }
    let start = ts;
    let end = ts + gap;
    let acc = spec.aggregate.add(spec.aggregate.init(), value) as A;
    const acks: Ack[] = [ack];
    let applied = offset;
    const up = new Map<string, UpstreamPos>(pos ? [[src, pos]] : []);
    const absorbed = new Set<string>();
    ack.retain();
    // Merge every session of this key that the new event touches: they become one session.
    for (const [k, w] of sessions) {
      if (ts < w.start - gap || ts > w.end) continue;
      start = Math.min(start, w.start);
      end = Math.max(end, w.end);
      acc = spec.aggregate.merge(w.acc as A, acc);
      acks.push(...w.acks);
      if (w.applied > applied) applied = w.applied;
      for (const [s, q] of w.up) if (!seenUpstream(q, up.get(s) ?? { offset: -1n, seq: -1 })) up.set(s, q);
      for (const a of w.absorbed ?? []) absorbed.add(a);
      absorbed.add(k);
      deleteWindow(state, k);
      state.merged.add(k); // tombstoned by the next tick, after the merged session is written
    }
    const key = storeKey(start, group);
    absorbed.delete(key);
    setWindow(state, key, {
      group,
      start,
      end,
      acc,
      changed: true,
      resultPending: true,
      lastEmitAt: -Infinity,
      acks,
      applied,
      up,
      absorbed: absorbed.size ? absorbed : undefined,
    });
    state.dirty.add(storeKey(start, group));
  }

  return {
    store: spec.store,
    changelog,
    inputTopic: spec.inputTopic,
    lateTopic: spec.lateTopic ?? lateTopic(rt.topology),
    push(env) {
      const now = rt.now();
      const ts = spec.eventTime(env.value);
      const src = env.source.headers['sluice.src'] ?? `${env.source.topic}/${env.source.partition}`;
      const reported =
        env.source.headers['sluice.wm'] !== undefined ? Number(env.source.headers['sluice.wm']) : undefined;
      const tr = trackerOf(env.source.topic);
      const wm = tr.watermark(now);
      const state = partition(env.source.partition);
      state.topic = env.source.topic;
      const offset = BigInt(env.source.offset);
      // Re-delivered after a restart and already part of the checkpointed state: nothing to do.
      if (offset <= state.applied) return;
      if (offset > state.lastOffset) state.lastOffset = offset;
      const upOffset = env.source.headers['sluice.src.offset'];
      let pos: UpstreamPos | undefined;
      if (upOffset !== undefined) {
        pos = { offset: BigInt(upOffset), seq: Number(env.source.headers['sluice.src.seq'] ?? 0) };
        if (seenUpstream(state.upstream.get(src), pos)) return; // a re-sent copy
        state.upstream.set(src, pos);
        state.upstreamChanged = true;
      }
      const group = spec.key(env.value);
      if (spec.window.kind === 'session') {
        if (ts + spec.window.gapMs + grace <= wm) late(env, ts, ts + spec.window.gapMs, wm);
        else addToSession(state, ts, group, env.value, env.ack, spec.window.gapMs, offset, src, pos);
      } else {
        const windows = assignWindows(spec.window, ts);
        const open = windows.filter((w) => closeAt(w) > wm);
        if (!open.length) late(env, ts, windows[windows.length - 1].end, wm);
        for (const w of open) addTo(state, w, group, env.value, env.ack, offset, src, pos);
      }
      // Records with an upstream watermark were already observed by the instance, for every window.
      if (reported === undefined) tr.observe(src, ts, now);
    },
    tick(full = true) {
      const now = rt.now();
      const wm = tracker ? tracker.watermark(now) : restoredWm;
      let open = 0;
      for (const [p, state] of partitions) {
        const visit: Iterable<[string, WindowState]> = full
          ? [...state.windows]
          : [...state.dirty].flatMap((k) => {
              const w = state.windows.get(k);
              return w ? [[k, w] as [string, WindowState]] : [];
            });
        state.dirty.clear();
        // The order is what keeps finals final after a crash (any prefix of these writes may be
        // what survives): 1. every changed window's state; 2. the tombstones of merged-away
        // sessions; 3. the checkpoint (event time, offsets) that covers them; 4. only then the
        // final results and the closed windows' tombstones. A window is never deleted from the
        // changelog before a checkpoint whose watermark closes it is durable, so a restore never
        // reopens it from re-delivered records.
        const closing: [string, WindowState][] = [];
        // The inputs' acks ride on the checkpoint, the last of this partition's writes (one
        // changelog partition: durable in order). Were they released with their windows' records,
        // an input could be committed while the checkpoint covering it (its event time) is lost,
        // and a restore would resume behind it with nothing left to move event time on.
        const acks: Ack[] = [];
        for (const [k, w] of visit) {
          if (w.changed) {
            acks.push(...w.acks);
            w.acks = [];
            emitChangelog(
              p,
              k,
              {
                g: w.group,
                s: w.start,
                e: w.end,
                a: w.acc,
                o: String(w.applied),
                u: encodeUp(w.up),
                m: w.absorbed ? [...w.absorbed] : undefined,
              },
              [],
            );
            w.changed = false;
            w.absorbed = undefined; // their tombstones follow in this tick
          }
          if (full && closeAt(w) <= wm) closing.push([k, w]);
          else {
            open++;
            if (w.resultPending && now - w.lastEmitAt >= emitEvery) emitResult(p, w, false, now);
          }
        }
        for (const k of state.merged) emitChangelog(p, k, null, []);
        state.merged.clear();
        // Light ticks write the checkpoint too: it must keep up with the offsets those windows let
        // the runner commit, or a restore would resume with an older watermark than the records
        // before the commit set.
        if (
          acks.length ||
          (Number.isFinite(wm) && wm > state.persistedWm) ||
          state.lastOffset > state.persistedOffset ||
          state.upstreamChanged
        ) {
          emitChangelog(
            p,
            WATERMARK_KEY,
            {
              wm: Number.isFinite(wm) ? wm : null,
              offset: String(state.lastOffset),
              upstream: encodeUp(state.upstream) ?? {},
            },
            acks,
          );
          for (const a of acks) a.release(); // our hold; the checkpoint output now holds them
          state.upstreamChanged = false;
          if (Number.isFinite(wm)) state.persistedWm = Math.max(state.persistedWm, wm);
          state.persistedOffset = state.lastOffset;
        }
        for (const [k, w] of closing) {
          emitResult(p, w, true, now);
          rt.onEmitDelay?.(spec.store, Math.max(0, now - closeAt(w)) / 1000);
          emitChangelog(p, k, null, []);
          deleteWindow(state, k);
        }
      }
      if (full) rt.onWindowsOpen?.(spec.store, open);
    },
    restore(p, key, value) {
      const state = partition(p);
      if (key === WATERMARK_KEY) {
        if (value) {
          const { wm, offset, upstream } = JSON.parse(value.toString()) as {
            wm: number | null;
            offset?: string;
            upstream?: Record<string, string>;
          };
          if (offset !== undefined) {
            state.applied = BigInt(offset);
            state.lastOffset = state.applied;
            state.persistedOffset = state.applied;
          }
          state.upstream = decodeUp(upstream);
          if (wm !== null) {
            state.persistedWm = Math.max(state.persistedWm, wm);
            restoredWm = Math.max(restoredWm, wm);
            tracker?.restore(wm);
          }
        }
        return;
      }
      if (value === null) {
        deleteWindow(state, key);
        return;
      }
      const v = JSON.parse(value.toString()) as {
        g: string;
        s: number;
        e: number;
        a: unknown;
        o?: string;
        u?: Record<string, string>;
        m?: string[];
      };
      for (const gone of v.m ?? []) deleteWindow(state, gone);
      // Restored windows re-emit their result once; a final result re-emitted after a restart
      // carries the same value, so downstream upserts by key stay correct.
      setWindow(state, key, {
        group: v.g,
        start: v.s,
        end: v.e,
        acc: v.a,
        changed: false,
        resultPending: true,
        lastEmitAt: -Infinity,
        acks: [],
        applied: v.o === undefined ? -1n : BigInt(v.o),
        up: decodeUp(v.u),
      });
    },
    reset() {
      partitions.clear();
    },
    openWindows() {
      let n = 0;
      for (const s of partitions.values()) n += s.windows.size;
      return n;
    },
  };
}
