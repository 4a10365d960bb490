import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseS3SinkConfig } from '../../../connectors/s3/config.ts';
import {
  hourPartition,
  HOUR_MS,
  objectKey,
  objectKeyPrefix,
  parseObjectKey,
  partitionDir,
} from '../../../connectors/s3/layout.ts';
import {
  eventTimeBucket,
  nextKnownStart,
  planBatches,
  rollAfter,
  rollBefore,
  type PlannedRecord,
} from '../../../connectors/s3/rollRules.ts';

const T = Date.UTC(2026, 2, 7, 9, 58, 30); // 2026-03-07T09:58:30Z

test('object keys follow <zone>/<topic>/dt=YYYY-MM-DD/hour=HH/<topic>+<partition>+<startOffset>.<ext>', () => {
  assert.equal(
    objectKey({ zone: 'raw', topic: 'oltp.orders', partition: 2, startOffset: 1200n, timestamp: T, format: 'avro' }),
    'raw/oltp.orders/dt=2026-03-07/hour=09/oltp.orders+2+1200.avro',
  );
  assert.equal(
    objectKey({
      zone: 'quarantine',
      topic: 'web.clickstream.dlq',
      partition: 0,
      startOffset: '0',
      timestamp: T,
      format: 'jsonl.gz',
    }),
    'quarantine/web.clickstream.dlq/dt=2026-03-07/hour=09/web.clickstream.dlq+0+0.jsonl.gz',
  );
  assert.equal(
    objectKeyPrefix(partitionDir('staging', 'silver.orders', T), 'silver.orders', 1),
    'staging/silver.orders/dt=2026-03-07/hour=09/silver.orders+1+',
  );
});

test('keys parse back into their parts; anything off the layout is refused', () => {
  const key = objectKey({
    zone: 'staging',
    topic: 'it_x.silver.customers',
    partition: 11,
    startOffset: 9007199254740993n,
    timestamp: T,
    format: 'jsonl.gz',
  });
  assert.deepEqual(parseObjectKey(key), {
    zone: 'staging',
    topic: 'it_x.silver.customers',
    dt: '2026-03-07',
    hour: '09',
    partition: 11,
    startOffset: 9007199254740993n,
    format: 'jsonl.gz',
  });
  assert.equal(
    parseObjectKey('raw/a/dt=2026-03-07/hour=09/b+0+1.avro'),
    undefined,
    'file topic differs from the directory',
  );
  assert.equal(parseObjectKey('bronze/a/dt=2026-03-07/hour=09/a+0+1.avro'), undefined, 'unknown zone');
  assert.equal(parseObjectKey('raw/a/dt=2026-03-07/hour=09/a+0+1.orc'), undefined, 'unknown extension');
  assert.equal(parseObjectKey('raw/a/dt=2026-03-07/a+0+1.avro'), undefined, 'no hour directory');
});

test('hour partitions are UTC and come from the event time; absent or absurd timestamps stay inside the layout', () => {
  assert.deepEqual(hourPartition(Date.UTC(2026, 11, 31, 23, 59, 59, 999)), { dt: '2026-12-31', hour: '23' });
  assert.deepEqual(hourPartition(Date.UTC(2027, 0, 1, 0, 0, 0)), { dt: '2027-01-01', hour: '00' });
  assert.deepEqual(hourPartition(-1), { dt: '1970-01-01', hour: '00' });
  assert.deepEqual(hourPartition(Number.NaN), { dt: '1970-01-01', hour: '00' });
  assert.deepEqual(hourPartition(1e17), { dt: '9999-12-31', hour: '23' }, 'a four-digit year keeps keys parseable');
  assert.equal(
    eventTimeBucket(Date.UTC(2026, 0, 1, 10, 59, 59, 999), HOUR_MS) + 1,
    eventTimeBucket(Date.UTC(2026, 0, 1, 11), HOUR_MS),
  );
  assert.equal(
    eventTimeBucket(Date.UTC(2026, 0, 1, 10, 14), 15 * 60_000),
    eventTimeBucket(Date.UTC(2026, 0, 1, 10, 0), 15 * 60_000),
  );
  assert.notEqual(
    eventTimeBucket(Date.UTC(2026, 0, 1, 10, 15), 15 * 60_000),
    eventTimeBucket(Date.UTC(2026, 0, 1, 10, 14), 15 * 60_000),
  );
});

test('an event-time span must divide an hour, so no object spans two hour directories', () => {
  assert.equal(parseS3SinkConfig({ rollEventTimeMs: 15 * 60_000 }).rollEventTimeMs, 900_000);
  assert.throws(
    () => parseS3SinkConfig({ rollEventTimeMs: 7 * 60_000 }),
    /SLUICE_ERR_CONFIG_INVALID|must divide one hour/,
  );
  assert.throws(() => parseS3SinkConfig({ rollEventTimeMs: 2 * HOUR_MS }), /rollEventTimeMs/);
  assert.throws(() => parseS3SinkConfig({ partSize: 1024 }), /partSize/);
  assert.throws(() => parseS3SinkConfig({ zone: 'bronze' }), /zone/);
  const d = parseS3SinkConfig({});
  assert.deepEqual(
    [d.zone, d.format, d.rollRecords, d.rollBytes, d.rollEventTimeMs, d.idleCloseMs, d.partSize, d.queueSize],
    ['raw', 'avro', 10_000, 16 * 1024 * 1024, HOUR_MS, 30_000, 5 * 1024 * 1024, 2],
  );
});

test('roll decisions: before a record (span, schema, an existing object starting here), after it (records, bytes)', () => {
  const batch = { startOffset: 100n, records: 3, bytes: 300, bucket: 7, schema: 's', nextKnownStart: 150n };
  assert.equal(rollBefore(batch, { offset: 103n, bucket: 7, schema: 's' }), undefined);
  assert.equal(rollBefore(batch, { offset: 103n, bucket: 8, schema: 's' }), 'event-time');
  assert.equal(
    rollBefore(batch, { offset: 103n, bucket: 6, schema: 's' }),
    'event-time',
    'an out-of-order timestamp also starts a new object',
  );
  assert.equal(rollBefore(batch, { offset: 103n, bucket: 7, schema: 't' }), 'schema');
  assert.equal(rollBefore(batch, { offset: 150n, bucket: 7, schema: 's' }), 'aligned');
  assert.equal(
    rollBefore(batch, { offset: 151n, bucket: 7, schema: 's' }),
    'aligned',
    'the existing start was a gap here: still cut',
  );
  assert.equal(rollAfter({ records: 9, bytes: 10 }, { rollRecords: 10, rollBytes: 100 }), undefined);
  assert.equal(rollAfter({ records: 10, bytes: 10 }, { rollRecords: 10, rollBytes: 100 }), 'records');
  assert.equal(rollAfter({ records: 2, bytes: 100 }, { rollRecords: 10, rollBytes: 100 }), 'bytes');
  assert.equal(nextKnownStart([5n, 400n, 150n, 90n], 100n), 150n);
  assert.equal(nextKnownStart([5n, 100n], 100n), undefined);
});

function records(
  n: number,
  opts: { from?: number; t0?: number; stepMs?: number; bytes?: (i: number) => number } = {},
): PlannedRecord[] {
  const from = opts.from ?? 0;
  return Array.from({ length: n }, (_, i) => ({
    offset: BigInt(from + i),
    timestamp: (opts.t0 ?? T) + i * (opts.stepMs ?? 1000),
    bytes: opts.bytes?.(from + i) ?? 100,
  }));
}

const ROLL = { rollRecords: 50, rollBytes: 10_000, rollEventTimeMs: HOUR_MS };

test("batches roll by records, by bytes and at the hour; the directory is the first record's hour", () => {
  // 09:58:30 + 1 s per record: the hour turns at record 90.
  const plan = planBatches(records(200, { bytes: (i) => (i >= 150 ? 2500 : 100) }), ROLL);
  assert.deepEqual(
    plan.map((b) => [Number(b.startOffset), b.records, b.closedBy]),
    [
      [0, 50, 'records'],
      [50, 40, 'event-time'],
      [90, 50, 'records'],
      [140, 14, 'bytes'],
      ...Array.from({ length: 11 }, (_, i) => [154 + 4 * i, 4, 'bytes']),
      [198, 2, 'end'],
    ],
  );
  const dirs = plan.map((b) => partitionDir('raw', 't', b.timestamp));
  assert.equal(dirs[1], 'raw/t/dt=2026-03-07/hour=09');
  assert.equal(dirs[2], 'raw/t/dt=2026-03-07/hour=10');
});

test('replaying from any batch boundary rebuilds the same batches, so a restart rewrites the same names', () => {
  const all = records(1000, { stepMs: 7_000, bytes: (i) => 60 + ((i * 37) % 90) });
  const plan = planBatches(all, ROLL);
  for (const [i, b] of plan.entries()) {
    const replay = planBatches(
      all.filter((r) => r.offset >= b.startOffset),
      ROLL,
    );
    assert.deepEqual(replay, plan.slice(i), `replay from ${b.startOffset}`);
  }
});

test("after a non-reproducible close (idle, flush), the existing objects' starts line the replay up with them", () => {
  const all = records(300, { stepMs: 100 });
  // A previous run closed batches at 0–49 (records), 50–61 (idle), 62–111 (records) and
  // had 112–140 (flush) durable but uncommitted when it died; the commit stood at 50.
  const previous = [0n, 50n, 62n, 112n];
  const replay = planBatches(
    all.filter((r) => r.offset >= 50n),
    ROLL,
    previous,
  );
  assert.deepEqual(
    replay.slice(0, 3).map((b) => [b.startOffset, b.lastOffset]),
    [
      [50n, 61n],
      [62n, 111n],
      [112n, 161n],
    ],
  );
  // Every object of the previous run from the resume point on is overwritten by a batch of the
  // same start, and the replay's batches never overlap one another: no record twice.
  const starts = new Set(replay.map((b) => b.startOffset));
  for (const s of previous.filter((s) => s >= 50n)) assert.ok(starts.has(s), `object ${s} is rewritten`);
  const seen = new Set<bigint>();
  for (const b of replay)
    for (let o = b.startOffset; o <= b.lastOffset; o++) {
      assert.ok(!seen.has(o));
      seen.add(o);
    }
  assert.equal(seen.size, 250);
});
