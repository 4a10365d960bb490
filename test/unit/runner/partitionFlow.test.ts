import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionFlow } from '../../../src/runner/partitionFlow.ts';

function flow(max: number, maxBytes = Number.MAX_SAFE_INTEGER) {
  const events: string[] = [];
  const f = new PartitionFlow(
    't',
    { records: max, bytes: maxBytes },
    {
      resume: (topic, partition) => events.push(`resume ${topic}/${partition}`),
      pausedChanged: (n) => events.push(`paused ${n}`),
    },
  );
  return { f, events };
}

test('a full partition waits for room and is woken by the ack that makes it, without pausing the fetch', async () => {
  const { f, events } = flow(4);
  const tracker = f.tracker('in', 0);
  for (let o = 0n; o < 4n; o++) tracker.register(o);
  assert.ok(f.isFull(tracker));
  const room = f.waitForRoom('in', 0, tracker, 5_000);
  tracker.markDone(0n);
  f.recordDone('in', 0, tracker); // 3 in flight: not yet half
  tracker.markDone(1n);
  f.recordDone('in', 0, tracker); // 2 in flight: room
  assert.equal(await room, true);
  assert.deepEqual(events, [], 'never paused, never resumed: the batch went on');
});

test('a wait that outlasts its bound (a stalled sink) ends false; the pause that follows is resumed by the ack that makes room', async () => {
  const { f, events } = flow(2);
  const tracker = f.tracker('in', 1);
  tracker.register(0n);
  tracker.register(1n);
  assert.equal(await f.waitForRoom('in', 1, tracker, 10), false);
  f.pause('in', 1, tracker);
  assert.ok(f.isPaused('in', 1));
  tracker.markDone(0n);
  f.recordDone('in', 1, tracker);
  assert.deepEqual(events, ['paused 1', 'paused 0', 'resume in/1']);
  assert.ok(!f.isPaused('in', 1));
});

test('a new assignment ends every wait for room (false), so no batch of the old assignment goes on', async () => {
  const { f } = flow(1);
  const tracker = f.tracker('in', 2);
  tracker.register(0n);
  const room = f.waitForRoom('in', 2, tracker, 5_000);
  f.reset();
  assert.equal(await room, false);
});

test('large records fill a partition by bytes before the record count does, and room comes back by bytes', async () => {
  const { f } = flow(10_000, 4 * 1024 * 1024);
  const tracker = f.tracker('in', 0);
  // Three records of 1.5 MiB: far under 10,000 records, over 4 MiB.
  for (let o = 0n; o < 3n; o++) tracker.register(o, 1.5 * 1024 * 1024);
  assert.equal(tracker.inFlightBytes, 4.5 * 1024 * 1024);
  assert.ok(f.isFull(tracker));
  let woken: boolean | undefined;
  const room = f.waitForRoom('in', 0, tracker, 5_000).then((r) => {
    woken = r;
  });
  tracker.markDone(1n); // done out of order: not passed yet, still in flight
  f.recordDone('in', 0, tracker);
  await new Promise((r) => setImmediate(r));
  assert.equal(woken, undefined);
  tracker.markDone(0n); // 0 and 1 passed: 1.5 MiB left, under half of 4 MiB
  assert.equal(tracker.inFlightBytes, 1.5 * 1024 * 1024);
  f.recordDone('in', 0, tracker);
  await room;
  assert.equal(woken, true);
  assert.ok(!f.isFull(tracker));
});

test("a sink's batch raises the limits to twice its size, so a partition never waits for room only a full batch makes", () => {
  const { f } = flow(2000, 4 * 1024 * 1024);
  const tracker = f.tracker('in', 0);
  // An S3 sink rolling objects of 10,000 records / 16 MiB acks nothing before one is complete.
  f.allowSinkBatch({ records: 10_000, bytes: 16 * 1024 * 1024 });
  assert.deepEqual(f.inFlightLimits, { records: 20_000, bytes: 32 * 1024 * 1024 });
  for (let o = 0n; o < 10_000n; o++) tracker.register(o, 1677);
  assert.ok(!f.isFull(tracker), 'a whole batch fits');
  // A smaller sink never lowers what the configuration allows.
  f.allowSinkBatch({ records: 100, bytes: 0 });
  assert.deepEqual(f.inFlightLimits, { records: 20_000, bytes: 32 * 1024 * 1024 });
});

test('a reset (rewind, assignment, consumer restart) resumes the partitions it paused: the consumer keeps a pause across rebalances, and nothing in flight is left to resume it', () => {
  const { f, events } = flow(1);
  const tracker = f.tracker('in', 3);
  tracker.register(0n);
  f.pause('in', 3, tracker);
  events.length = 0;
  // The exactly-once zombie: its batch paused the partition, its transaction was fenced, and the
  // rewind forgot what was in flight — the ack that would have resumed it never comes.
  f.reset();
  assert.ok(!f.isPaused('in', 3));
  assert.deepEqual(events, ['resume in/3', 'paused 0']);
});
