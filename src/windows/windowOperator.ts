import type avro from 'avsc';
import type { Envelope, Output } from '../topology/types.ts';
import { WatermarkTracker } from './watermarks.ts';
import { type InputPosition, addToSession, addToWindow } from './windowAdd.ts';
import { restoreRecord } from './windowChangelog.ts';
import { type WindowOutputs, windowOutputs } from './windowOutputs.ts';
import type { WindowSpec } from './windowSpec.ts';
import {
  newPartitionState,
  type PartitionState,
  seenUpstream,
  sessionsOf,
  storeKey,
  type WindowState,
} from './windowState.ts';
import { emitDue, type TickKind, tickPartition } from './windowTick.ts';
import { assignWindows } from './windowTypes.ts';

export type { WindowSpec } from './windowSpec.ts';
export type { TickKind } from './windowTick.ts';
export { changelogTopic, lateTopic, WATERMARK_KEY } from './windowChangelog.ts';

/**
 * A keyed event-time window aggregation with durable state.
 *
 * - Every window's accumulator is written to a compacted changelog topic (partition = the input
 *   partition) on each tick where it changed; an input record's ack is held until the changelog
 *   record carrying its contribution is durable, so its offset is committed only with the state
 *   it fed (commit-after-durable for state).
 * - Provisional results go out on change, at most every `emitEveryMs` per window; exactly
 *   one final result when the watermark passes its end plus the grace period, then a tombstone.
 * - A record for a window that is already closed goes to `<topology>.late` with its lateness.
 * - The watermark is persisted per partition in the changelog, so a restart never reopens a
 *   closed window and a final result is only ever re-emitted with the same value.
 * - Each window remembers the last input offset it applied, and each partition the offset all of
 *   its state covers: records re-delivered after a restart (between the last offset commit and
 *   the crash) are recognised and not counted twice, nor sent to the late topic again.
 */

/**
 * Provisional results of a window at most this often by default: a window's first change after a
 * quiet spell goes out at the end of its batch, later ones are coalesced into one per interval.
 * A busy window's change waits half an interval on average: at 50 ms that was 25 ms of a
 * 100 ms budget for the whole path to the feed (four Kafka hops), and at 10 ms the end-to-end
 * p99 at 1,000 events/s went under it. A busy key still costs at most 100 results a second, not
 * one per input; the metrics runner's CPU per event measured the same at 10 ms as at 1 s
 * (bench/endToEndLatency.bench.ts).
 */
export const DEFAULT_EMIT_EVERY_MS = 10;

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

export interface WindowOperator<T> {
  readonly store: string;
  readonly changelog: string;
  readonly inputTopic?: string;
  readonly lateTopic: string;
  push(env: Envelope<T>): void;
  /** Time passes: a full, state or results tick (see TickKind). */
  tick(kind?: TickKind): void;
  /** Sends the provisional results held back by `emitEveryMs` whose time has come (cheap when none). */
  emitDue(): void;
  restore(partition: number, key: string, value: Buffer | null): void;
  /**
   * Forget every partition's state before a restore: after an assignment the state of each owned
   * partition is rebuilt from its changelog alone (records not yet in it are re-delivered from the
   * committed offsets), and partitions no longer owned live on in the changelog.
   */
  reset(): void;
  openWindows(): number;
}

/**
 * Adds an input to its windows, or sends it to the late topic when they are all closed — unless
 * a restored window already holds it: re-delivered after a crash that lost the checkpoint but
 * kept the window's record, it was counted before event time moved on, so it is neither late
 * nor counted again.
 */
function place<T, A, R>(
  spec: WindowSpec<T, A, R>,
  out: WindowOutputs,
  input: { env: Envelope<T>; ts: number; at: InputPosition },
  state: PartitionState,
  wm: number,
): void {
  const { env, ts, at } = input;
  const grace = spec.graceMs ?? 0;
  const group = spec.key(env.value);
  if (spec.window.kind === 'session') {
    const gap = spec.window.gapMs;
    if (ts + gap + grace > wm) addToSession(state, spec.aggregate, ts, gap, group, env.value, env.ack, at);
    else if (!sessionsOf(state, group).some(([, w]) => ts >= w.start && ts < w.end && holds(w, at))) {
      out.late(env, ts, ts + gap, wm);
      state.lateUnwritten = true;
    }
    return;
  }
  const windows = assignWindows(spec.window, ts);
  const open = windows.filter((w) => w.end + grace > wm);
  if (!open.length && !windows.some((w) => holds(state.windows.get(storeKey(w.start, group)), at))) {
    out.late(env, ts, windows[windows.length - 1].end, wm);
    state.lateUnwritten = true;
  }
  for (const w of open) addToWindow(state, spec.aggregate, w, group, env.value, env.ack, at);
}

/** Whether window `w` already applied the input at `at` (by offset, or by upstream position). */
function holds(w: WindowState | undefined, at: InputPosition): boolean {
  return (
    w !== undefined && (at.offset <= w.applied || (at.pos !== undefined && seenUpstream(w.up.get(at.src), at.pos)))
  );
}

export function createWindowOperator<T, A, R>(spec: WindowSpec<T, A, R>, rt: WindowRuntime): WindowOperator<T> {
  const grace = spec.graceMs ?? 0;
  const session = spec.window.kind === 'session';
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
  const partitions = new Map<number, PartitionState>();
  const partition = (p: number) => {
    let s = partitions.get(p);
    if (!s) partitions.set(p, (s = newPartitionState()));
    return s;
  };
  const txnOf = (p: number) => {
    const topic = spec.inputTopic ?? partitions.get(p)?.topic;
    return topic === undefined ? undefined : `${topic}/${p}`;
  };
  const out = windowOutputs(spec, { ...rt, txnOf });
  const closeAt = (w: { end: number }) => w.end + grace;
  const emitEveryMs = spec.emitEveryMs ?? DEFAULT_EMIT_EVERY_MS;

  return {
    store: spec.store,
    changelog: out.changelog,
    inputTopic: spec.inputTopic,
    lateTopic: out.lateTopic,
    push(env) {
      const now = rt.now();
      const ts = spec.eventTime(env.value);
      const h = env.source.headers;
      const src = h['sluice.src'] ?? `${env.source.topic}/${env.source.partition}`;
      const tr = trackerOf(env.source.topic);
      const wm = tr.watermark(now);
      const state = partition(env.source.partition);
      state.topic = env.source.topic;
      const offset = BigInt(env.source.offset);
      // Re-delivered after a restart and already part of the checkpointed state: nothing to do.
      if (offset <= state.applied) return;
      if (offset > state.lastOffset) state.lastOffset = offset;
      const at: InputPosition = { offset, src };
      if (h['sluice.src.offset'] !== undefined) {
        at.pos = { offset: BigInt(h['sluice.src.offset']), seq: Number(h['sluice.src.seq'] ?? 0) };
        if (seenUpstream(state.upstream.get(src), at.pos)) return; // a re-sent copy
        state.upstream.set(src, at.pos);
        state.upstreamChanged = true;
      }
      place(spec, out, { env, ts, at }, state, wm);
      // Records with an upstream watermark were already observed by the instance, for every window.
      if (h['sluice.wm'] === undefined) tr.observe(src, ts, now);
    },
    tick(kind = 'full') {
      const now = rt.now();
      const wm = tracker ? tracker.watermark(now) : restoredWm;
      const onEmitDelay = rt.onEmitDelay && ((s: number) => rt.onEmitDelay!(spec.store, s));
      const t = { out, kind, now, wm, emitEveryMs, closeAt, onEmitDelay };
      let open = 0;
      for (const [p, state] of partitions) open += tickPartition(p, state, t);
      if (kind === 'full') rt.onWindowsOpen?.(spec.store, open);
    },
    emitDue() {
      let now: number | undefined;
      for (const [p, state] of partitions) {
        if (!state.due.size) continue;
        now ??= rt.now();
        emitDue(p, state, { out, now, emitEveryMs });
      }
    },
    restore(p, key, value) {
      const wm = restoreRecord(partition(p), key, value, session);
      if (wm === undefined) return;
      restoredWm = Math.max(restoredWm, wm);
      tracker?.restore(wm);
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
