import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { Consumer } from '../kafka/kafkaTypes.ts';

export const FEED_HEARTBEAT_MS = 3_000;

/**
 * A consumer for the feed: like `KafkaClient.consumer`, but fetches wait at most `maxWaitMs` for
 * data. kafkajs finishes the fetch in flight before it disconnects, so its default five-second
 * wait would hold up every feed shutdown and every consumer rebuild by that much.
 */
export function feedConsumer(kafka: KafkaClient, groupId: string, maxWaitMs = 500): Consumer {
  return kafka.raw.consumer({
    groupId,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: maxWaitMs,
    maxBytesPerPartition: 1024 * 1024,
    sessionTimeout: 30_000,
    heartbeatInterval: FEED_HEARTBEAT_MS,
  });
}
