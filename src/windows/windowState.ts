import type { Ack } from '../topology/types.ts';

/**
 * The in-memory state of a window store, per input partition: its windows (with the inputs'
 * acks they hold until their changelog record is durable), the sessions by key, what changed
 * since the last tick, and the positions that recognise re-delivered input after a restart.
 */

export interface WindowState {
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

export interface UpstreamPos {
  offset: bigint;
  seq: number;
}

/** True when `pos` is not after `last`: that copy was applied already. */
export function seenUpstream(last: UpstreamPos | undefined, pos: UpstreamPos): boolean {
  return last !== undefined && (pos.offset < last.offset || (pos.offset === last.offset && pos.seq <= last.seq));
}

export function encodeUp(up: Map<string, UpstreamPos>): Record<string, string> | undefined {
  return up.size ? Object.fromEntries([...up].map(([k, v]) => [k, `${v.offset}:${v.seq}`])) : undefined;
}

export function decodeUp(up: Record<string, string> | undefined): Map<string, UpstreamPos> {
  const out = new Map<string, UpstreamPos>();
  for (const [src, pos] of Object.entries(up ?? {})) {
    const [o, q] = pos.split(':');
    out.set(src, { offset: BigInt(o), seq: Number(q) });
  }
  return out;
}

export interface PartitionState {
  windows: Map<string, WindowState>;
  /** Session windows by group key, so merging looks only at that key's sessions. */
  sessionsByGroup: Map<string, Set<string>>;
  /** Windows changed since their state was last written: a state tick visits only these. */
  dirty: Set<string>;
  /** Windows changed since the last tick of any kind: a results tick after each batch visits only these. */
  fresh: Set<string>;
  /**
   * Open windows whose provisional result is held back because one went out less than
   * `emitEveryMs` ago: `emitDue` sends them once that has passed (coalescing per window).
   */
  due: Set<string>;
  /**
   * Session keys merged away since the last tick. Their tombstones are written by the tick after
   * the merged session's record: a crash in between must never leave the old sessions deleted
   * and the merged one not yet written (their contributions would be lost).
   */
  merged: Set<string>;
  /**
   * A record of this partition went to the late topic since the last checkpoint. The next tick
   * writes the checkpoint whatever its kind: a late record re-delivered after a crash is known
   * as seen only by a checkpoint past its offset, and would otherwise go to the late topic twice.
   */
  lateUnwritten: boolean;
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

/** The changelog key of a window: `<start>|<group>`. */
export function storeKey(start: number, group: string): string {
  return `${start}|${group}`;
}

export function newPartitionState(): PartitionState {
  return {
    windows: new Map(),
    sessionsByGroup: new Map(),
    dirty: new Set(),
    fresh: new Set(),
    due: new Set(),
    merged: new Set(),
    lateUnwritten: false,
    persistedWm: -Infinity,
    applied: -1n,
    lastOffset: -1n,
    persistedOffset: -1n,
    upstream: new Map(),
    upstreamChanged: false,
  };
}

/** Puts a window in place (sessions also by group, so merging looks only at that key's sessions). */
export function setWindow(state: PartitionState, key: string, w: WindowState, session: boolean): void {
  state.windows.set(key, w);
  state.merged.delete(key);
  if (!session) return;
  let keys = state.sessionsByGroup.get(w.group);
  if (!keys) {
    keys = new Set();
    state.sessionsByGroup.set(w.group, keys);
  }
  keys.add(key);
}

export function deleteWindow(state: PartitionState, key: string): void {
  const w = state.windows.get(key);
  if (!w) return;
  state.windows.delete(key);
  state.due.delete(key);
  const keys = state.sessionsByGroup.get(w.group);
  if (keys) {
    keys.delete(key);
    if (!keys.size) state.sessionsByGroup.delete(w.group);
  }
}

export function sessionsOf(state: PartitionState, group: string): [string, WindowState][] {
  return [...(state.sessionsByGroup.get(group) ?? [])].map((k) => [k, state.windows.get(k)!]);
}
