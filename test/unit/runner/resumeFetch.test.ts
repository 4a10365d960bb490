import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka } from 'kafkajs';
import type { Consumer } from '../../../src/kafka/kafkaTypes.ts';
import { PartitionFlow } from '../../../src/runner/partitionFlow.ts';
import { resumeFetch } from '../../../src/runner/resumeFetch.ts';

// A real kafkajs consumer that is not running: what the runner's consumer is between a crash and
// kafkajs' restart of it (creating it does no I/O).
const idle = () => new Kafka({ brokers: ['127.0.0.1:1'], retry: { retries: 0 } }).consumer({ groupId: 'g' });

test('a reset during a consumer crash (no consumer group) resumes nothing and does not throw', () => {
  const consumer = idle() as unknown as Consumer;
  assert.throws(() => consumer.resume([{ topic: 't', partitions: [0] }]), /not initialized/, 'kafkajs itself throws');
  const flow = new PartitionFlow(
    't',
    { records: 1, bytes: 1 << 20 },
    { resume: (topic, partition) => resumeFetch(consumer, topic, partition), pausedChanged: () => {} },
  );
  const tracker = flow.tracker('t', 0);
  tracker.register(0n);
  flow.pause('t', 0, tracker);
  // The broker went away while the partition was paused (a stalled sink): kafkajs reports a crash
  // it will restart from, and the runner resets its flow. This threw and stopped the runner (CI).
  assert.doesNotThrow(() => flow.reset());
  assert.ok(!flow.isPaused('t', 0));
});

test('other resume errors are not hidden', () => {
  const broken = {
    resume() {
      throw new Error('Invalid topic');
    },
  } as unknown as Consumer;
  assert.throws(() => resumeFetch(broken, 't', 0), /Invalid topic/);
});
