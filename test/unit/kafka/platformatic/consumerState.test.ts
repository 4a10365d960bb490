import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionPositions } from '../../../../src/kafka/platformatic/partitionPositions.ts';
import { PauseState } from '../../../../src/kafka/platformatic/pauseState.ts';

test('pausing a topic pauses all its partitions; resuming one of them resumes just that one', () => {
  const paused = new PauseState();
  paused.pause([{ topic: 'orders' }]);
  assert.equal(paused.isPaused('orders', 5), true, 'even one assigned later');
  paused.resume([{ topic: 'orders', partitions: [2] }]);
  assert.equal(paused.isPaused('orders', 2), false);
  assert.equal(paused.isPaused('orders', 1), true);
  assert.equal(paused.isPaused('clicks', 1), false);
  assert.deepEqual(paused.paused(new Map([['orders', [0, 1, 2]]])), [{ topic: 'orders', partitions: [0, 1] }]);
  paused.resume([{ topic: 'orders' }]);
  assert.deepEqual(paused.paused(new Map([['orders', [0, 1, 2]]])), []);
});

test('pausing single partitions leaves the others of the topic fetching', () => {
  const paused = new PauseState();
  paused.pause([{ topic: 'orders', partitions: [1] }]);
  assert.equal(paused.isPaused('orders', 1), true);
  assert.equal(paused.isPaused('orders', 0), false);
  paused.resume([{ topic: 'orders', partitions: [1] }]);
  assert.equal(paused.isPaused('orders', 1), false);
});

test('a seek waits for its partition to be assigned, and makes the batch in hand stale until then', () => {
  const positions = new PartitionPositions();
  positions.seek('orders', 3, 42n);
  positions.applySeeks(new Map([['orders', [0, 1]]]));
  assert.equal(positions.hasSeek('orders', 3), true);
  assert.equal(positions.get('orders', 3), undefined);
  positions.applySeeks(new Map([['orders', [3]]]));
  assert.equal(positions.hasSeek('orders', 3), false);
  assert.equal(positions.get('orders', 3), 42n);
});

test('resolving an offset moves the position past it, unless a seek is pending or the generation is over', () => {
  const positions = new PartitionPositions();
  const gen = positions.generation;
  positions.set('orders', 0, 10n);
  positions.resolve('orders', 0, 14n, gen);
  assert.equal(positions.get('orders', 0), 15n);
  positions.seek('orders', 0, 3n);
  positions.resolve('orders', 0, 20n, gen);
  positions.applySeeks(new Map([['orders', [0]]]));
  assert.equal(positions.get('orders', 0), 3n, 'the seek wins');
  positions.newGeneration();
  positions.resolve('orders', 0, 30n, gen);
  assert.equal(positions.get('orders', 0), undefined, 'a batch of the old generation resolves nothing');
});

test('a new generation forgets positions but keeps pending seeks; missing lists partitions without position', () => {
  const positions = new PartitionPositions();
  positions.set('orders', 0, 5n);
  positions.seek('orders', 1, 7n);
  positions.newGeneration();
  const assigned = new Map([['orders', [0, 1]]]);
  assert.deepEqual(positions.missing(assigned), new Map([['orders', [0, 1]]]));
  positions.applySeeks(assigned);
  assert.deepEqual(positions.missing(assigned), new Map([['orders', [0]]]));
});
