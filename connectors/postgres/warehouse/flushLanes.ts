import type { Output } from '../../../src/topology/types.ts';
import type { Cut, Member } from './member.ts';
import { partitionKey } from './storedOffsets.ts';

/**
 * Splits a flush into lanes that commit side by side, each in its own transaction on its own
 * connection. One COPY keeps one Postgres backend busy while the other core waits; two lanes
 * use both.
 *
 * A source partition's rows stay in one lane, so nothing the flush guarantees moves:
 * - its stored offset is a row only that lane locks (lanes never wait on each other for it);
 * - every table's rows of one source record commit together (a transaction group stays whole);
 * - flushes still run one after another, so a partition's rows land in offset order.
 * Partitions go to the lane with the fewest rows so far, largest first; rows without a source
 * go with the first lane.
 *
 * @example const lanes = flushLanes(cut, 2); // partitions 0 and 2 in one lane, partition 1 in the other
 */
export function flushLanes(cut: Cut, lanes: number): Cut[] {
  if (lanes <= 1 || !cut.length) return [cut];
  const byPartition = new Map<string, { rows: Map<Member, Output[]>; count: number }>();
  for (const [m, rows] of cut) {
    for (const o of rows) {
      const k = o.source ? partitionKey(o.source.topic, o.source.partition) : '';
      let part = byPartition.get(k);
      if (!part) byPartition.set(k, (part = { rows: new Map(), count: 0 }));
      const list = part.rows.get(m);
      if (list) list.push(o);
      else part.rows.set(m, [o]);
      part.count++;
    }
  }
  if (byPartition.size <= 1) return [cut];
  const parts = [...byPartition.values()].sort((a, b) => b.count - a.count);
  const out = Array.from({ length: Math.min(lanes, parts.length) }, () => ({
    rows: new Map<Member, Output[]>(),
    count: 0,
  }));
  const loose = byPartition.get('');
  for (const part of parts) {
    const lane = part === loose ? out[0] : out.reduce((a, b) => (b.count < a.count ? b : a));
    lane.count += part.count;
    for (const [m, rows] of part.rows) {
      const list = lane.rows.get(m);
      if (list) for (const o of rows) list.push(o);
      else lane.rows.set(m, rows);
    }
  }
  // Members keep the cut's order in every lane (the order their tables are written in).
  return out
    .filter((lane) => lane.count > 0)
    .map((lane) => cut.filter(([m]) => lane.rows.has(m)).map(([m]): [Member, Output[]] => [m, lane.rows.get(m)!]));
}
