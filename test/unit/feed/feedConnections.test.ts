import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WebSocket } from 'ws';
import { FeedConnections } from '../../../src/feed/feedConnections.ts';
import { createFeedMetrics } from '../../../src/feed/feedMetrics.ts';

/**
 * Live pacing: the feed waits for a client that reads but is behind (a burst of large fetches),
 * and does not wait for one that stopped reading (that one is dropped once over the limit).
 * A socket here is its send buffer only: `bufferedAmount` is what pacing looks at.
 */

const LIMITS = { maxBufferedBytes: 4_000, maxPendingPerClient: 10, drainTimeoutMs: 10_000 };
const LOW_WATER = LIMITS.maxBufferedBytes / 4;

function socket(bufferedAmount: number) {
  return { bufferedAmount, send() {}, close() {}, terminate() {}, ping() {} };
}

/** A client that reads `bytesPerTick` of its send buffer every 50 ms. */
function reading(ws: { bufferedAmount: number }, bytesPerTick: number) {
  const timer = setInterval(() => {
    ws.bufferedAmount = Math.max(0, ws.bufferedAmount - bytesPerTick);
  }, 50);
  return () => clearInterval(timer);
}

test('live pacing waits until a client that reads is below the low-water mark', async () => {
  const connections = new FeedConnections(LIMITS, createFeedMetrics());
  const ws = socket(3_900);
  connections.add(ws as unknown as WebSocket);
  const stop = reading(ws, 200);
  try {
    await connections.paceLive();
    assert.ok(ws.bufferedAmount <= LOW_WATER, `resolved with ${ws.bufferedAmount} bytes unsent`);
  } finally {
    stop();
  }
});

test('live pacing does not wait for a client that stopped reading, nor hold up one that reads', async () => {
  const connections = new FeedConnections(LIMITS, createFeedMetrics());
  const stuck = socket(3_000);
  const slow = socket(3_900);
  connections.add(stuck as unknown as WebSocket);
  connections.add(slow as unknown as WebSocket);
  const stop = reading(slow, 100);
  try {
    await connections.paceLive();
    assert.ok(slow.bufferedAmount <= LOW_WATER, 'the reading client was waited for');
    assert.equal(stuck.bufferedAmount, 3_000, 'the stuck client never read, and pacing went on without it');
  } finally {
    stop();
  }
});

test('live pacing returns at once when every client has room', async () => {
  const connections = new FeedConnections(LIMITS, createFeedMetrics());
  const ws = socket(LOW_WATER);
  connections.add(ws as unknown as WebSocket);
  let resolved = false;
  const paced = connections.paceLive().then(() => {
    resolved = true;
  });
  await Promise.resolve();
  assert.ok(resolved, 'no wait at or below the low-water mark');
  await paced;
});
