import type { Output } from '../../src/topology/types.ts';
import type { Batch } from './batch.ts';

/** What the connector knows about one source topic-partition. */
export interface PartitionState {
  topic: string;
  partition: number;
  lastOffset?: bigint;
  batch?: Batch;
  /** Records waiting for the listing of a directory before a batch can open there. */
  pending?: Output[];
  /** Start offsets of objects found by listing, per hour directory (cleared on re-delivery). */
  listed: Map<string, Set<bigint>>;
  /** Start offsets of batches this connector closed, per directory (uploaded or uploading). */
  own: Map<string, Set<bigint>>;
  /** The next listing may find an object the replay starts inside (after connect or re-delivery). */
  recovering: boolean;
  /** Records up to this offset are already durable in an existing object: acknowledge, skip. */
  skipThrough?: bigint;
  /** Bumped on re-delivery, so a listing begun before it is ignored. */
  generation: number;
}

/** A partition seen for the first time: its next listing may find an object the replay starts inside. */
export function newPartitionState(topic: string, partition: number): PartitionState {
  return { topic, partition, listed: new Map(), own: new Map(), recovering: true, generation: 0 };
}

/** Start offsets of every object known in `dir`: listed there, or closed by this connector. */
export function knownStarts(st: PartitionState, dir: string): bigint[] {
  return [...(st.listed.get(dir) ?? []), ...(st.own.get(dir) ?? [])];
}

/** The start offsets of `dir` in `map` (created if absent), with `start` added when given. */
export function rememberStart(map: Map<string, Set<bigint>>, dir: string, start?: bigint): Set<bigint> {
  let set = map.get(dir);
  if (!set) {
    set = new Set();
    map.set(dir, set);
    // Keep the last few directories: late records may revisit one; an evicted one is re-listed.
    if (map.size > 8) map.delete(map.keys().next().value!);
  }
  if (start !== undefined) set.add(start);
  return set;
}

/**
 * Forgets what a re-delivery invalidates: the open batch, waiting records, the skip range and the
 * listings; the next record lists its directory again, looking for an object it starts inside.
 */
export function resetForRedelivery(st: PartitionState): void {
  st.batch = undefined;
  st.pending = undefined;
  st.skipThrough = undefined;
  st.listed.clear();
  st.recovering = true;
  st.generation++;
}
