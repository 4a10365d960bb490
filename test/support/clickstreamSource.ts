import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT, type Config } from '../../src/config/config.ts';
import { loadSchema } from '../../src/domain/schemas.ts';
import { syntheticPrice } from '../../src/shop/generate/clickstreamGenerator.ts';
import { createKafkaClient, type KafkaClient } from '../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../src/kafka/ensureTopics.ts';
import type { Producer } from '../../src/kafka/kafkaTypes.ts';
import { createAvroSerde, type AvroSerde } from '../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../src/serde/schemaRegistry.ts';

/**
 * A prefixed clickstream source for tests of the clickstream topology: its topics (3 partitions),
 * a catalogue of products in the prefixed `oltp.products` (the referential rule's table), the
 * registered schema ids, and a connected producer.
 */
export interface ClickstreamSource {
  kafka: KafkaClient;
  serde: AvroSerde;
  producer: Producer;
  clicks: string;
  silver: string;
  dlq: string;
  clickSchemaId: number;
  products: { id: number; price: string }[];
  productsTopic: string;
  /** The Avro value of product `id` (as the extract publishes it). */
  productValue(id: number): Promise<Buffer>;
}

export async function clickstreamSource(cfg: Config, prefix: string, productCount = 30): Promise<ClickstreamSource> {
  const kafka = createKafkaClient(cfg, `it-${prefix}`);
  const clicks = `${prefix}.web.clickstream`;
  const productsTopic = `${prefix}.oltp.products`;
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic: clicks }, { topic: productsTopic }], { partitions: 3, replicationFactor: 1 });
  await admin.disconnect();
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const pid = await registry.register('oltp.products-value', loadSchema('oltp.products'));
  const clickSchemaId = await registry.register('web.clickstream-value', loadSchema('web.clickstream'));
  const products = Array.from({ length: productCount }, (_, i) => ({ id: i + 1, price: syntheticPrice(i + 1) }));
  const productValue = (id: number) =>
    serde.encode(pid, {
      product_id: id,
      sku: `S${id}`,
      name: `P${id}`,
      category: 'toys',
      price: syntheticPrice(id),
      active: true,
      created_at: 1,
      updated_at: 1,
      op: 'r',
      extracted_at: 1,
    });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic: productsTopic,
    acks: -1,
    messages: await Promise.all(products.map(async (p) => ({ key: String(p.id), value: await productValue(p.id) }))),
  });
  return {
    kafka,
    serde,
    producer,
    clicks,
    silver: `${prefix}.silver.clickstream`,
    dlq: `${clicks}.dlq`,
    clickSchemaId,
    products,
    productsTopic,
    productValue,
  };
}

/**
 * A runner of one (prefixed) topology in a child process, for tests that SIGKILL it; resolves
 * once it consumes. `env` adds settings (the processing guarantee, say).
 */
export function runnerChild(
  topology: string,
  prefix: string,
  groupId: string,
  opts: { partitions?: number; metricsIdleMs?: number; env?: Record<string, string> } = {},
): Promise<ChildProcess> {
  const args = [
    path.join(PROJECT_ROOT, 'test/support/runTopologyChild.ts'),
    topology,
    prefix,
    groupId,
    '-',
    opts.metricsIdleMs ? String(opts.metricsIdleMs) : '',
    String(opts.partitions ?? 3),
  ];
  const c = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SLUICE_LOG_LEVEL: process.env.SLUICE_TEST_CHILD_LOG_LEVEL ?? 'error', ...opts.env },
  });
  return new Promise((resolve, reject) => {
    c.once('exit', (code) => reject(new Error(`runner child exited early with ${code}`)));
    createInterface({ input: c.stdout! }).on('line', (line) => {
      if (line.startsWith('ready ')) resolve(c);
    });
  });
}

/** Stops a runner child with `signal` (SIGKILL: a crash) and waits for it to exit. */
export async function stopChild(c: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  c.removeAllListeners('exit');
  if (c.exitCode !== null || c.signalCode !== null) return;
  c.kill(signal);
  await once(c, 'exit');
}
