import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordsBatch } from '@platformatic/kafka';
import { dropAbortedBatches } from '../../../../src/kafka/platformatic/dropAbortedBatches.ts';
import { FetchedBatch, headersOf } from '../../../../src/kafka/platformatic/fetchedBatch.ts';

const TRANSACTIONAL = 1 << 4;
const CONTROL = 1 << 5;
const LOG_APPEND_TIME = 1 << 3;

/** A record batch of `values` from `firstOffset` (a null value: a tombstone). */
function batch(
  firstOffset: bigint,
  values: (string | null)[],
  opts: { attributes?: number; producerId?: bigint; headers?: [string, string][] } = {},
): RecordsBatch {
  return {
    firstOffset,
    length: 0,
    partitionLeaderEpoch: 0,
    magic: 2,
    crc: 0,
    attributes: opts.attributes ?? 0,
    lastOffsetDelta: values.length - 1,
    firstTimestamp: 1_000n,
    maxTimestamp: 9_000n,
    producerId: opts.producerId ?? -1n,
    producerEpoch: 0,
    firstSequence: 0,
    records: values.map((v, i) => ({
      length: 0,
      attributes: 0,
      timestampDelta: BigInt(i),
      offsetDelta: i,
      key: Buffer.from(`k${i}`),
      value: v === null ? null : Buffer.from(v),
      headers: (opts.headers ?? []).map(([k, hv]) => [Buffer.from(k), Buffer.from(hv)] as [Buffer, Buffer]),
    })),
  };
}

/** A control batch (a transaction marker) of `producerId`: abort (type 0) or commit (1). */
function marker(offset: bigint, producerId: bigint, commit: boolean): RecordsBatch {
  const b = batch(offset, [''], { attributes: TRANSACTIONAL | CONTROL, producerId });
  const key = Buffer.alloc(4);
  key.writeInt16BE(commit ? 1 : 0, 2);
  b.records[0].key = key;
  return b;
}

const values = (b: FetchedBatch) => b.messages.map((m) => m.value?.toString() ?? null);

test('a batch hands over records from the fetch offset on, with offsets, timestamps and high watermark as strings', () => {
  const b = new FetchedBatch('t', 2, 11n, { highWatermark: 20n, records: [batch(10n, ['a', 'b', null])] }, true);
  assert.deepEqual(values(b), ['b', null]);
  assert.deepEqual(
    b.messages.map((m) => [m.offset, m.timestamp, m.key?.toString()]),
    [
      ['11', '1001', 'k1'],
      ['12', '1002', 'k2'],
    ],
  );
  assert.equal(b.highWatermark, '20');
  assert.equal(b.firstOffset(), '11');
  assert.equal(b.lastOffset(), '12');
  assert.equal(b.offsetLag(), '7');
  assert.equal(b.offsetLagLow(), '8');
  assert.equal(b.isEmpty(), false);
});

test('a batch stamped by the broker (LogAppendTime) takes its max timestamp for every record', () => {
  const b = new FetchedBatch(
    't',
    0,
    0n,
    { highWatermark: 2n, records: [batch(0n, ['a', 'b'], { attributes: LOG_APPEND_TIME })] },
    true,
  );
  assert.deepEqual(
    b.messages.map((m) => m.timestamp),
    ['9000', '9000'],
  );
});

test('transaction markers reach no handler, but the last offset covers them', () => {
  const b = new FetchedBatch(
    't',
    0,
    0n,
    {
      highWatermark: 4n,
      records: [batch(0n, ['a', 'b', 'c'], { attributes: TRANSACTIONAL, producerId: 7n }), marker(3n, 7n, true)],
    },
    true,
  );
  assert.deepEqual(values(b), ['a', 'b', 'c']);
  assert.equal(b.lastOffset(), '3');
  assert.equal(b.isEmptyDueToFiltering(), false);
});

test('a fetch of nothing but a marker is empty due to filtering, and its last offset is the marker', () => {
  const b = new FetchedBatch('t', 0, 5n, { highWatermark: 6n, records: [marker(5n, 7n, true)] }, true);
  assert.equal(b.isEmpty(), true);
  assert.equal(b.isEmptyDueToFiltering(), true);
  assert.equal(b.lastOffset(), '5');
});

test('an empty fetch has no records, and its last offset is the one before the high watermark (as in kafkajs)', () => {
  const b = new FetchedBatch('t', 0, 6n, { highWatermark: 6n, records: [] }, true);
  assert.equal(b.hasRecords, false);
  assert.equal(b.isEmptyDueToFiltering(), false);
  assert.equal(b.firstOffset(), null);
  assert.equal(b.lastOffset(), '5');
});

test('read committed drops an aborted transaction even when its abort marker is not in the response yet', () => {
  const records = [batch(0n, ['ok']), batch(1n, ['x1', 'x2'], { attributes: TRANSACTIONAL, producerId: 9n })];
  const aborted = [{ producerId: 9n, firstOffset: 1n }];
  const committed = new FetchedBatch('t', 0, 0n, { highWatermark: 4n, records, abortedTransactions: aborted }, true);
  assert.deepEqual(values(committed), ['ok']);
  assert.equal(committed.lastOffset(), '2', 'the position still moves past the aborted records');
  const uncommitted = new FetchedBatch('t', 0, 0n, { highWatermark: 4n, records, abortedTransactions: aborted }, false);
  assert.deepEqual(values(uncommitted), ['ok', 'x1', 'x2']);
});

test('an abort marker ends the aborted range: the same producer commits afterwards', () => {
  const kept = dropAbortedBatches(
    [
      batch(0n, ['x'], { attributes: TRANSACTIONAL, producerId: 9n }),
      marker(1n, 9n, false),
      batch(2n, ['y'], { attributes: TRANSACTIONAL, producerId: 9n }),
      marker(3n, 9n, true),
      batch(4n, ['z'], { attributes: TRANSACTIONAL, producerId: 5n }),
    ],
    [{ producerId: 9n, firstOffset: 0n }],
  );
  assert.deepEqual(
    kept.map((b) => b.firstOffset),
    [1n, 2n, 3n, 4n],
  );
});

test('an aborted range starts at its first offset: earlier batches of the producer are kept', () => {
  const kept = dropAbortedBatches(
    [
      batch(0n, ['a'], { attributes: TRANSACTIONAL, producerId: 9n }),
      marker(1n, 9n, true),
      batch(2n, ['b'], { attributes: TRANSACTIONAL, producerId: 9n }),
    ],
    [{ producerId: 9n, firstOffset: 2n }],
  );
  assert.deepEqual(
    kept.map((b) => b.firstOffset),
    [0n, 1n],
  );
});

test('headers come by name as Buffers, and a repeated name keeps every value in order', () => {
  const h = headersOf([
    [Buffer.from('a'), Buffer.from('1')],
    [Buffer.from('b'), Buffer.from('2')],
    [Buffer.from('a'), Buffer.from('3')],
  ]);
  assert.deepEqual(Object.keys(h), ['a', 'b']);
  assert.deepEqual((h.a as Buffer[]).map(String), ['1', '3']);
  assert.equal(String(h.b), '2');
});
