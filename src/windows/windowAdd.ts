import type { Ack } from '../topology/types.ts';
import type { Aggregation } from './aggregations.ts';
import type { TimeWindow } from './windowTypes.ts';
import {
  deleteWindow,
  type PartitionState,
  seenUpstream,
  sessionsOf,
  setWindow,
  storeKey,
  type UpstreamPos,
} from './windowState.ts';

/**
 * Adding one input to the windows it belongs to. Each window holds the input's ack until its
 * changelog record is durable; an input a window already applied (by offset, or by upstream
 * position behind a repartition topic) is skipped, so re-delivery after a restart counts once.
 */

/** Where an input comes from: its offset here and, behind a repartition topic, its upstream position. */
export interface InputPosition {
  offset: bigint;
  src: string;
  pos?: UpstreamPos;
}

/** Adds `value` to a fixed (tumbling or hopping) window. */
export function addToWindow<T, A>(
  state: PartitionState,
  agg: Aggregation<T, A>,
  w: TimeWindow,
  group: string,
  value: T,
  ack: Ack,
  at: InputPosition,
): void {
  const k = storeKey(w.start, group);
  let win = state.windows.get(k);
  if (!win) {
    win = {
      group,
      start: w.start,
      end: w.end,
      acc: agg.init(),
      changed: true,
      resultPending: true,
      lastEmitAt: -Infinity,
      acks: [],
      applied: -1n,
      up: new Map(),
    };
    setWindow(state, k, win, false);
  }
  if (at.offset <= win.applied) return; // already in this window's restored state
  if (at.pos) {
    if (seenUpstream(win.up.get(at.src), at.pos)) return; // a copy re-sent by stage 1, applied before the crash
    win.up.set(at.src, at.pos);
  }
  win.applied = at.offset;
  state.dirty.add(k);
  state.fresh.add(k);
  win.acc = agg.add(win.acc as A, value);
  win.changed = true;
  win.resultPending = true;
  ack.retain();
  win.acks.push(ack);
}

/**
 * Adds `value` at event time `ts` to its key's sessions: every session it touches (closer than
 * the gap) merges with it into one. Merged-away sessions are tombstoned by the next tick, after
 * the merged session is written.
 */
export function addToSession<T, A>(
  state: PartitionState,
  agg: Aggregation<T, A>,
  ts: number,
  gap: number,
  group: string,
  value: T,
  ack: Ack,
  at: InputPosition,
): void {
  const sessions = sessionsOf(state, group);
  for (const [, w] of sessions) {
    if (ts < w.start || ts >= w.end) continue;
    if (at.offset <= w.applied || (at.pos && seenUpstream(w.up.get(at.src), at.pos))) return; // already applied
  }
  const merged = {
    start: ts,
    end: ts + gap,
    acc: agg.add(agg.init(), value) as A,
    acks: [ack] as Ack[],
    applied: at.offset,
    up: new Map<string, UpstreamPos>(at.pos ? [[at.src, at.pos]] : []),
    absorbed: new Set<string>(),
  };
  ack.retain();
  for (const [k, w] of sessions) {
    if (ts < w.start - gap || ts > w.end) continue;
    merged.start = Math.min(merged.start, w.start);
    merged.end = Math.max(merged.end, w.end);
    merged.acc = agg.merge(w.acc as A, merged.acc);
    merged.acks.push(...w.acks);
    if (w.applied > merged.applied) merged.applied = w.applied;
    for (const [s, q] of w.up) if (!seenUpstream(q, merged.up.get(s) ?? { offset: -1n, seq: -1 })) merged.up.set(s, q);
    for (const a of w.absorbed ?? []) merged.absorbed.add(a);
    merged.absorbed.add(k);
    deleteWindow(state, k);
    state.merged.add(k); // tombstoned by the next tick, after the merged session is written
  }
  const key = storeKey(merged.start, group);
  merged.absorbed.delete(key);
  const { absorbed, ...rest } = merged;
  setWindow(
    state,
    key,
    {
      ...rest,
      group,
      changed: true,
      resultPending: true,
      lastEmitAt: -Infinity,
      absorbed: absorbed.size ? absorbed : undefined,
    },
    true,
  );
  state.dirty.add(key);
  state.fresh.add(key);
}
