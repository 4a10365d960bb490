import type { Consumer } from '../kafka/kafkaTypes.ts';

/**
 * Resumes the fetch of one partition the flow had paused. Between a consumer crash and kafkajs'
 * restart of it there is no consumer group to resume (kafkajs throws "Consumer group was not
 * initialized"), and the restarted group starts with nothing paused: nothing to do then. An
 * exception here would have stopped the runner in the middle of a crash it recovers from.
 */
export function resumeFetch(consumer: Consumer | undefined, topic: string, partition: number): void {
  try {
    consumer?.resume([{ topic, partitions: [partition] }]);
  } catch (err) {
    if (!/not initialized/i.test((err as Error)?.message ?? '')) throw err;
  }
}
