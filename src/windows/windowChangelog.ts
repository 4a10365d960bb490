import { decodeUp, deleteWindow, encodeUp, type PartitionState, setWindow, type WindowState } from './windowState.ts';

/**
 * The changelog of a window store: one compacted record per window (its accumulator, the last
 * input offset and upstream positions it applied, the sessions it absorbed) and one checkpoint
 * per partition under `__watermark__` (event time, the offset all state covers, upstream
 * positions). JSON values, keyed by `<start>|<group>`.
 */

export const WATERMARK_KEY = '__watermark__';

export function changelogTopic(topology: string, store: string): string {
  return `sluice.${topology}.${store}.changelog`;
}

export function lateTopic(topology: string): string {
  return `${topology}.late`;
}

interface WindowRecord {
  g: string;
  s: number;
  e: number;
  a: unknown;
  o?: string;
  u?: Record<string, string>;
  m?: string[];
}

interface CheckpointRecord {
  wm: number | null;
  offset?: string;
  upstream?: Record<string, string>;
}

/** The changelog value of a window. */
export function windowRecord(w: WindowState): WindowRecord {
  return {
    g: w.group,
    s: w.start,
    e: w.end,
    a: w.acc,
    o: String(w.applied),
    u: encodeUp(w.up),
    m: w.absorbed ? [...w.absorbed] : undefined,
  };
}

/** The changelog value of a partition's checkpoint at watermark `wm`. */
export function checkpointRecord(state: PartitionState, wm: number): CheckpointRecord {
  return {
    wm: Number.isFinite(wm) ? wm : null,
    offset: String(state.lastOffset),
    upstream: encodeUp(state.upstream) ?? {},
  };
}

/**
 * Applies one changelog record to a partition's state. Returns the watermark a checkpoint
 * restores (event time never moves back across a restart), else undefined.
 */
export function restoreRecord(
  state: PartitionState,
  key: string,
  value: Buffer | null,
  session: boolean,
): number | undefined {
  if (key === WATERMARK_KEY) return value ? restoreCheckpoint(state, JSON.parse(value.toString())) : undefined;
  if (value === null) {
    deleteWindow(state, key);
    return undefined;
  }
  const v = JSON.parse(value.toString()) as WindowRecord;
  for (const gone of v.m ?? []) deleteWindow(state, gone);
  // Restored windows re-emit their result once; a final result re-emitted after a restart
  // carries the same value, so downstream upserts by key stay correct.
  const restored = {
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
  };
  setWindow(state, key, restored, session);
  return undefined;
}

function restoreCheckpoint(state: PartitionState, c: CheckpointRecord): number | undefined {
  if (c.offset !== undefined) {
    state.applied = BigInt(c.offset);
    state.lastOffset = state.applied;
    state.persistedOffset = state.applied;
  }
  state.upstream = decodeUp(c.upstream);
  if (c.wm === null) return undefined;
  state.persistedWm = Math.max(state.persistedWm, c.wm);
  return c.wm;
}
