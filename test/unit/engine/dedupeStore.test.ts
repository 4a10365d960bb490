import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAck } from '../../../src/engine/ack.ts';
import { createDedupeStore } from '../../../src/engine/dedupeStore.ts';
import { uniqueWithin } from '../../../src/topology/rules.ts';
import type { Envelope, Output } from '../../../src/topology/types.ts';

const rule = uniqueWithin('event_id_unique', 'event_id', 60_000);

function envelope(offset: number, done: () => void, partition = 0): Envelope<unknown> {
  const source = {
    topic: 'web.clickstream',
    partition,
    offset: String(offset),
    key: null,
    value: null,
    headers: {},
    timestamp: 1_000 + offset,
  };
  return { value: {}, key: null, source, ack: createAck(done, () => {}) } as unknown as Envelope<unknown>;
}

test('the ids a batch accepts go to the changelog as one record per partition at flush, and their acks wait for it', () => {
  const out: Output[] = [];
  const store = createDedupeStore('t', rule as never, (o) => {
    for (const a of o.acks) a.retain();
    out.push(o);
  });
  const done: number[] = [];
  const envs = [0, 1, 2].map((i) => envelope(i, () => done.push(i)));
  envs.push(envelope(7, () => done.push(7), 1));
  for (const [i, e] of envs.entries()) store.accept(e, `id-${i}`);
  for (const e of envs) e.ack.release(); // the engine's own reference, as after push
  assert.deepEqual(done, [], 'no ack completes before its id is written');
  assert.equal(out.length, 0, 'nothing is written before the flush');
  store.flush();
  assert.equal(out.length, 2, 'one record per source partition');
  const [p0, p1] = out;
  assert.equal(p0.key, 'web.clickstream#0');
  assert.equal(p0.partition, 0);
  assert.equal(p0.timestamp, 1_002, 'the newest event time it holds');
  assert.deepEqual(JSON.parse((p0.value as Buffer).toString()).ids, [
    ['id-0', 1_000, 'web.clickstream/0/0'],
    ['id-1', 1_001, 'web.clickstream/0/1'],
    ['id-2', 1_002, 'web.clickstream/0/2'],
  ]);
  assert.equal(p1.key, 'web.clickstream#7');
  assert.equal(p1.partition, 1);
  for (const o of out) for (const a of o.acks) a.release(); // the write is durable
  assert.deepEqual(done.sort(), [0, 1, 2, 7]);
  store.flush();
  assert.equal(out.length, 2, 'an empty flush writes nothing');
});

test('restore reads batch records and the former one-record-per-id layout, in log order', () => {
  const store = createDedupeStore('t', rule as never, () => {});
  store.restore(0, 'web.clickstream|old-id', Buffer.from(JSON.stringify({ t: 1_000, o: 'web.clickstream/0/0' })));
  store.restore(
    0,
    'web.clickstream#5',
    Buffer.from(JSON.stringify({ ids: [['new-id', 1_005, 'web.clickstream/0/5']] })),
  );
  const dup = (id: string, offset: number) =>
    store.check(
      envelope(offset, () => {}),
      id,
    );
  assert.match(dup('old-id', 9) ?? '', /duplicate event_id=old-id: accepted from web.clickstream\/0\/0/);
  assert.match(dup('new-id', 9) ?? '', /accepted from web.clickstream\/0\/5/);
  assert.equal(dup('new-id', 5), undefined, 'the accepted record itself, re-delivered, passes');
  assert.equal(dup('other', 9), undefined);
  store.restore(0, 'web.clickstream|old-id', null);
  assert.equal(dup('old-id', 9), undefined, 'a tombstone forgets the id');
});
