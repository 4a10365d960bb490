import type { Ack } from '../topology/types.ts';
import { checkpointRecord, WATERMARK_KEY, windowRecord } from './windowChangelog.ts';
import type { WindowOutputs } from './windowOutputs.ts';
import { deleteWindow, type PartitionState, type WindowState } from './windowState.ts';

/** What sending provisional results needs. */
export interface EmitContext {
  out: WindowOutputs;
  now: number;
  emitEveryMs: number;
}

/**
 * What a tick does. `full` (the runner's timer): every window, state written, windows the
 * watermark passed closed with their final result. `state` (backpressure, exactly-once batches,
 * shutdown): changed windows' state and the checkpoint written, so the inputs they hold can be
 * committed. `results` (after each batch): only the provisional results of windows that changed —
 * a window's state goes to its changelog with the next state or full tick, once per key however
 * many batches changed it (Kafka Streams' record cache does the same between commits). Writing it
 * after every batch cost the whole accumulator per batch: a distinct count of 10,000 sessions
 * rewritten 100 times a second kept the metrics runner busy and its updates late.
 */
export type TickKind = 'full' | 'state' | 'results';

export interface TickContext extends EmitContext {
  kind: TickKind;
  wm: number;
  closeAt(w: WindowState): number;
  onEmitDelay?(seconds: number): void;
}

/**
 * One partition's tick; returns how many of its windows stay open. The order is what keeps
 * finals final after a crash (any prefix of these writes may be what survives): 1. every changed
 * window's state; 2. the tombstones of merged-away sessions; 3. the checkpoint (event time,
 * offsets) that covers them; 4. only then the final results and the closed windows' tombstones.
 * A window is never deleted from the changelog before a checkpoint whose watermark closes it is
 * durable, so a restore never reopens it from re-delivered records.
 */
export function tickPartition(p: number, state: PartitionState, t: TickContext): number {
  // A partition that sent a record to the late topic writes its checkpoint in this tick (see lateUnwritten).
  if (t.kind === 'results' && !state.lateUnwritten) return emitChanged(p, state, t);
  state.lateUnwritten = false;
  const full = t.kind === 'full';
  const visit: [string, WindowState][] = full ? [...state.windows] : windowsOf(state, state.dirty);
  state.dirty.clear();
  state.fresh.clear();
  if (!full) emitDue(p, state, t);
  const closing: [string, WindowState][] = [];
  // The inputs' acks ride on the checkpoint, the last of this partition's writes (one changelog
  // partition: durable in order). Were they released with their windows' records, an input could
  // be committed while the checkpoint covering it (its event time) is lost, and a restore would
  // resume behind it with nothing left to move event time on.
  const acks: Ack[] = [];
  let open = 0;
  for (const [k, w] of visit) {
    if (w.changed) {
      acks.push(...w.acks);
      w.acks = [];
      t.out.changelogRecord(p, k, windowRecord(w), []);
      w.changed = false;
      w.absorbed = undefined; // their tombstones follow in this tick
    }
    if (full && t.closeAt(w) <= t.wm) closing.push([k, w]);
    else {
      open++;
      if (w.resultPending) emitProvisional(p, state, k, w, t);
    }
  }
  for (const k of state.merged) t.out.changelogRecord(p, k, null, []);
  state.merged.clear();
  writeCheckpoint(p, state, t, acks);
  for (const [k, w] of closing) {
    t.out.result(p, w, true, t.now);
    t.onEmitDelay?.(Math.max(0, t.now - t.closeAt(w)) / 1000);
    t.out.changelogRecord(p, k, null, []);
    deleteWindow(state, k);
  }
  return open;
}

/** The windows of `keys` that exist. */
function windowsOf(state: PartitionState, keys: Set<string>): [string, WindowState][] {
  const out: [string, WindowState][] = [];
  for (const k of keys) {
    const w = state.windows.get(k);
    if (w) out.push([k, w]);
  }
  return out;
}

/** A results tick: the provisional results of windows changed since the last tick (state stays dirty). */
function emitChanged(p: number, state: PartitionState, t: EmitContext): number {
  emitDue(p, state, t);
  for (const [k, w] of windowsOf(state, state.fresh)) if (w.resultPending) emitProvisional(p, state, k, w, t);
  state.fresh.clear();
  return state.windows.size;
}

/** A changed open window's provisional result: now, or once `emitEveryMs` has passed since the last. */
function emitProvisional(p: number, state: PartitionState, k: string, w: WindowState, t: EmitContext): void {
  if (t.now - w.lastEmitAt >= t.emitEveryMs) {
    t.out.result(p, w, false, t.now);
    state.due.delete(k);
  } else state.due.add(k);
}

/**
 * Sends the provisional results held back by coalescing whose time has come. Only results: state
 * and checkpoints stay with the ticks (a provisional result is not part of what a restore must
 * reproduce; finals are, and only full ticks send them).
 */
export function emitDue(p: number, state: PartitionState, t: EmitContext): void {
  for (const k of state.due) {
    const w = state.windows.get(k);
    if (!w?.resultPending) state.due.delete(k);
    else emitProvisional(p, state, k, w, t);
  }
}

/**
 * Light ticks write the checkpoint too: it must keep up with the offsets those windows let the
 * runner commit, or a restore would resume with an older watermark than the records before the
 * commit set.
 */
function writeCheckpoint(p: number, state: PartitionState, t: TickContext, acks: Ack[]): void {
  const wmMoved = Number.isFinite(t.wm) && t.wm > state.persistedWm;
  if (!acks.length && !wmMoved && state.lastOffset <= state.persistedOffset && !state.upstreamChanged) return;
  t.out.changelogRecord(p, WATERMARK_KEY, checkpointRecord(state, t.wm), acks);
  for (const a of acks) a.release(); // our hold; the checkpoint output now holds them
  state.upstreamChanged = false;
  if (Number.isFinite(t.wm)) state.persistedWm = Math.max(state.persistedWm, t.wm);
  state.persistedOffset = state.lastOffset;
}
