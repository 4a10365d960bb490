import type { Config } from '../../src/config/config.ts';
import { loadSchema } from '../../src/domain/schemas.ts';
import type { Customer } from '../../src/domain/types.generated.ts';
import { createKafkaClient } from '../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../src/kafka/ensureTopics.ts';
import { createAvroSerde } from '../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../src/serde/schemaRegistry.ts';

/**
 * A customers source topic on the real stack, ready to produce to: the topic (created with
 * `partitions`), the registered `oltp.customers` schema, a prepared serde, and a row builder.
 */
export async function customersSource(
  cfg: Config,
  topic: string,
  opts: { partitions?: number; clientId?: string } = {},
) {
  const partitions = opts.partitions ?? 3;
  const kafka = createKafkaClient(cfg, opts.clientId ?? 'it-customers');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, partitions }], { partitions, replicationFactor: 1 });
  await admin.disconnect();
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const schemaId = await registry.register('oltp.customers-value', loadSchema('oltp.customers'));
  await serde.prepareIds([schemaId]);
  const row = (id: number, over: Partial<Customer> = {}): Customer =>
    ({
      customer_id: id,
      email: `c${id}@shop.test`,
      full_name: `C ${id}`,
      country: 'DE',
      created_at: 1,
      updated_at: 2,
      op: 'c',
      extracted_at: 3,
      ...over,
    }) as Customer;
  return { kafka, registry, serde, schemaId, row, encode: (value: Customer) => serde.encodeSync(schemaId, value) };
}
