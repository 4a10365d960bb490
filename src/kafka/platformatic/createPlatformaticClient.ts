import type { Kafka } from 'kafkajs';
import type { Config } from '../../config/config.ts';
import { consumerTimings } from '../consumerTimings.ts';
import type { KafkaClient } from '../createKafkaClient.ts';
import { createGroupCoordinators } from './groupCoordinators.ts';
import { createPlatformaticAdmin } from './platformaticAdmin.ts';
import { createPlatformaticConsumer, type PlatformaticConsumerConfig } from './platformaticConsumer.ts';
import { createPlatformaticProducer } from './platformaticProducer.ts';
import { baseOptions } from './platformaticOptions.ts';

/**
 * Sluice's Kafka client backed by @platformatic/kafka instead of kafkajs
 * (`SLUICE_KAFKA_CLIENT=platformatic`): the same kafkajs-shaped admins, producers and consumers,
 * with the same settings — idempotent producers (acks=all) partitioning like kafkajs and Java,
 * consumers reading committed records with Sluice's group timings, offsets as strings, errors
 * shaped like kafkajs' so `isTransientKafkaError` reads them unchanged.
 *
 * `raw` is not a kafkajs `Kafka`: it only has `admin()`, `producer()` and `consumer(config)` taking
 * kafkajs' options (what `feedConsumer` uses). Creating the client does no I/O.
 *
 * @example
 *   const kafka = createPlatformaticClient(cfg, 'sluice-runner');
 *   const consumer = kafka.consumer({ groupId: 'sluice-clickstream' });
 */
export function createPlatformaticClient(
  cfg: Config,
  clientId = cfg.kafkaClientId,
  opts: { retries?: number; quiet?: boolean } = {},
): KafkaClient {
  const retries = opts.retries ?? 8;
  const options = (suffix: string, r = retries) => baseOptions(cfg, { clientId: `${clientId}${suffix}`, retries: r });
  // Admin calls nest their retries inside @platformatic/kafka (metadata, then the request): a
  // smaller count keeps a persistent failure from taking minutes; callers retry on top (retryKafka).
  const admin = () => createPlatformaticAdmin(options('', Math.min(retries, 3)));
  const coordinators = createGroupCoordinators(admin);
  const producer = (p: { transactionalId?: string } = {}) => createPlatformaticProducer(options(''), coordinators, p);
  const rawConsumer = (config: PlatformaticConsumerConfig) => createPlatformaticConsumer(options(''), config);
  return {
    raw: { admin, producer, consumer: rawConsumer } as unknown as Kafka,
    admin,
    producer,
    consumer: (c) => {
      const timings = consumerTimings(cfg, c);
      return rawConsumer({
        groupId: c.groupId,
        maxBytesPerPartition: c.maxBytesPerPartition ?? 1024 * 1024,
        readUncommitted: c.readUncommitted ?? false,
        ...timings,
      });
    },
  };
}
