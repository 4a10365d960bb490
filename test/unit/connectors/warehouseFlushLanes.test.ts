import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flushLanes } from '../../../connectors/postgres/warehouse/flushLanes.ts';
import type { Cut, Member } from '../../../connectors/postgres/warehouse/member.ts';
import { compareOffsets, positionsAfter } from '../../../connectors/postgres/warehouse/storedOffsets.ts';
import type { Output } from '../../../src/topology/types.ts';

function member(name: string): Member {
  return { name } as Member;
}

function row(topic: string, partition: number, offset: number): Output {
  return {
    topic: 'out',
    key: null,
    value: { n: offset },
    acks: [],
    source: { topic, partition, offset: String(offset), key: null, value: null, headers: {}, timestamp: 0 },
  };
}

/** Source partition → the lanes its rows went to, over every member. */
function lanesOfPartitions(lanes: Cut[]): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  lanes.forEach((lane, i) => {
    for (const [, rows] of lane)
      for (const o of rows) {
        const k = `${o.source?.topic}/${o.source?.partition}`;
        if (!out.has(k)) out.set(k, new Set());
        out.get(k)!.add(i);
      }
  });
  return out;
}

test('flushLanes keeps each source partition in one lane, with every table of it, in order', () => {
  const bronze = member('bronze.orders');
  const silver = member('silver.orders');
  const rows: Output[] = [];
  for (let i = 0; i < 30; i++) rows.push(row('oltp.orders', i % 3, Math.floor(i / 3)));
  const cut: Cut = [
    [bronze, rows],
    [silver, rows.filter((_, i) => i % 2 === 0)],
  ];
  const lanes = flushLanes(cut, 2);
  assert.equal(lanes.length, 2);
  for (const [, set] of lanesOfPartitions(lanes)) assert.equal(set.size, 1, 'a partition is split between lanes');
  // Every row is in exactly one lane.
  const total = lanes.reduce((n, lane) => n + lane.reduce((k, [, r]) => k + r.length, 0), 0);
  assert.equal(total, 30 + 15);
  // Members keep the cut's order; a partition's rows keep their offset order.
  for (const lane of lanes) {
    assert.deepEqual(
      lane.map(([m]) => m.name),
      ['bronze.orders', 'silver.orders'].filter((n) => lane.some(([m]) => m.name === n)),
    );
    for (const [, r] of lane) {
      const byPartition = new Map<number, number[]>();
      for (const o of r)
        byPartition.set(o.source!.partition, [
          ...(byPartition.get(o.source!.partition) ?? []),
          Number(o.source!.offset),
        ]);
      for (const offsets of byPartition.values())
        assert.deepEqual(
          offsets,
          [...offsets].sort((a, b) => a - b),
        );
    }
  }
});

test('flushLanes balances partitions by rows, largest first, and keeps one lane for one partition', () => {
  const m = member('t');
  const rows = [
    ...Array.from({ length: 10 }, (_, i) => row('a', 0, i)),
    ...Array.from({ length: 6 }, (_, i) => row('a', 1, i)),
    ...Array.from({ length: 5 }, (_, i) => row('a', 2, i)),
  ];
  const lanes = flushLanes([[m, rows]], 2);
  assert.deepEqual(
    lanes.map((lane) => lane[0][1].length),
    [10, 11],
  );
  assert.equal(flushLanes([[m, rows.slice(0, 10)]], 2).length, 1, 'one partition: one lane');
  assert.equal(flushLanes([[m, rows]], 1).length, 1, 'flushLanes 1: the cut as it is');
});

test('compareOffsets orders decimal offsets as numbers, beyond 2^53 too', () => {
  assert.ok(compareOffsets('9', '10') < 0);
  assert.ok(compareOffsets('10', '9') > 0);
  assert.equal(compareOffsets('42', '42'), 0);
  assert.ok(compareOffsets('9007199254740993', '9007199254740992') > 0);
});

test('positionsAfter advances each sink and partition past its greatest offset', () => {
  const rows = [row('a', 0, 9), row('a', 0, 10), row('a', 1, 3), row('a', 0, 2)];
  const positions = positionsAfter([[member('s'), rows]]);
  assert.deepEqual(
    positions.map((p) => [p.sink, p.topic, p.partition, p.next]),
    [
      ['s', 'a', 0, 11n],
      ['s', 'a', 1, 4n],
    ],
  );
});
