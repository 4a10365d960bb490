import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OffsetTracker } from '../../../src/engine/offsetTracker.ts';
import { createAck } from '../../../src/engine/ack.ts';

test('the committable offset never passes an unfinished record, whatever the completion order', () => {
  const t = new OffsetTracker();
  for (const o of [5n, 6n, 7n, 8n]) t.register(o);
  t.markDone(6n);
  t.markDone(8n);
  assert.equal(t.takeCommit(), undefined, '5 is still in flight');
  t.markDone(5n);
  assert.equal(t.takeCommit(), '7');
  assert.equal(t.takeCommit(), undefined, 'nothing new');
  assert.equal(t.inFlight, 2, '7 unfinished, 8 finished but behind it');
  t.markDone(7n);
  assert.equal(t.takeCommit(), '9');
  assert.equal(t.inFlight, 0);
});

test('an ack completes once, when the last holder releases', () => {
  let done = 0;
  const ack = createAck(
    () => done++,
    () => {},
  );
  ack.retain();
  ack.retain();
  ack.release();
  ack.release();
  assert.equal(done, 0);
  ack.release();
  assert.equal(done, 1);
  ack.release();
  assert.equal(done, 1);
});
