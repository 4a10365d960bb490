import type { Output, SinkRecordError, SourceRecord } from '../../../src/topology/types.ts';
import type { Cut, Member } from './member.ts';
import { partitionKey } from './storedOffsets.ts';

/** One source record's rows in a flush, per table: what lands or is dead-lettered as a whole. */
export interface Unit {
  source?: SourceRecord;
  rows: Map<Member, Output[]>;
}

/**
 * The cut's rows grouped by source record, sorted by topic, partition and offset (rows without a
 * source last, one unit each).
 */
export function unitsOf(cut: Cut): Unit[] {
  const byCoordinates = new Map<string, Unit>();
  const sourced: Unit[] = [];
  const loose: Unit[] = [];
  for (const [m, rows] of cut) {
    for (const o of rows) {
      const s = o.source;
      let u: Unit | undefined;
      if (s) {
        const k = `${partitionKey(s.topic, s.partition)}\u0000${s.offset}`;
        u = byCoordinates.get(k);
        if (!u) {
          u = { source: s, rows: new Map() };
          byCoordinates.set(k, u);
          sourced.push(u);
        }
      } else {
        u = { rows: new Map() };
        loose.push(u);
      }
      const list = u.rows.get(m);
      if (list) list.push(o);
      else u.rows.set(m, [o]);
    }
  }
  sourced.sort((a, b) => compareCoordinates(a.source!, b.source!));
  return sourced.concat(loose);
}

function compareCoordinates(x: SourceRecord, y: SourceRecord): number {
  if (x.topic !== y.topic) return x.topic < y.topic ? -1 : 1;
  if (x.partition !== y.partition) return x.partition - y.partition;
  const d = BigInt(x.offset) - BigInt(y.offset);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** The rows of `units` as a cut of `members` (in their order; members without rows left out). */
export function cutOf(units: Unit[], members: Member[]): Cut {
  const out: Cut = [];
  for (const m of members) {
    const rows: Output[] = [];
    for (const u of units) {
      const r = u.rows.get(m);
      if (r) for (const o of r) rows.push(o);
    }
    if (rows.length) out.push([m, rows]);
  }
  return out;
}

/** Why the unit is refused before sending (its first refused row), if it is. */
export function firstRefusal(u: Unit, refused: Map<Output, SinkRecordError>): SinkRecordError | undefined {
  if (!refused.size) return undefined;
  for (const rows of u.rows.values())
    for (const o of rows) {
      const why = refused.get(o);
      if (why) return why;
    }
  return undefined;
}
