import type { Kafka } from 'kafkajs';
import type { Config } from '../config/config.ts';
import { type ConsumerOptions, consumerTimings } from './consumerTimings.ts';
import { KAFKAJS_REBALANCE_TIMEOUT_MS, keepSessionAlive } from './keepSessionAlive.ts';

/**
 * A consumer with Sluice's group timings whose `run` handlers heartbeat while they work (see
 * `keepSessionAlive`), so a slow batch does not cost the member its partitions. Never creates
 * topics; reads committed records unless told otherwise.
 *
 * @example
 *   const consumer = createConsumer(kafka, cfg, { groupId: 'sluice-clickstream' });
 */
export function createConsumer(
  kafka: Kafka,
  cfg: Pick<Config, 'kafkaSessionTimeoutMs'>,
  opts: ConsumerOptions,
): ReturnType<Kafka['consumer']> {
  const timings = consumerTimings(cfg, {
    sessionTimeout: opts.sessionTimeout,
    heartbeatInterval: opts.heartbeatInterval,
    maxWaitTimeInMs: opts.maxWaitTimeInMs,
    rebalanceTimeout: opts.rebalanceTimeout,
  });
  const consumer = kafka.consumer({
    groupId: opts.groupId,
    allowAutoTopicCreation: false,
    maxBytesPerPartition: opts.maxBytesPerPartition ?? 1024 * 1024,
    readUncommitted: opts.readUncommitted ?? false,
    ...timings,
  });
  const keepAlive = {
    heartbeatInterval: timings.heartbeatInterval,
    maxProcessingMs: timings.rebalanceTimeout ?? KAFKAJS_REBALANCE_TIMEOUT_MS,
  };
  const run = consumer.run;
  consumer.run = (config) =>
    run({
      ...config,
      ...(config?.eachBatch ? { eachBatch: keepSessionAlive(config.eachBatch, keepAlive) } : {}),
      ...(config?.eachMessage ? { eachMessage: keepSessionAlive(config.eachMessage, keepAlive) } : {}),
    });
  return consumer;
}
