import pg from 'pg';
import { type Config, pgConnection } from '../../../src/config/config.ts';
import { asSluiceError, SluiceError } from '../../../src/core/errors.ts';
import { createLogger } from '../../../src/core/log.ts';
import { loadSchema, subjectFor } from '../../../src/domain/schemas.ts';
import { createKafkaClient, type KafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import type { Message, Producer } from '../../../src/kafka/kafkaTypes.ts';
import { type AvroSerde, createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import type { OltpTable } from '../../../src/shop/oltp/oltpTables.ts';
import type { PostgresIncrementalSourceConfig } from './config.ts';

const log = createLogger('extract.postgres');

/** Largest sum of value bytes in one produce request: well under the brokers' default 1 MiB. */
const MAX_REQUEST_BYTES = 512 * 1024;

/**
 * The extract's connections: Kafka (topics created, a producer acknowledged by every in-sync
 * replica), the registry (schemas registered, their ids learnt by the serde) and one Postgres
 * client in UTC. `open` does the I/O; the constructor none.
 *
 * @example
 *   const conn = new ExtractConnection(cfg, source, 'oltp');
 *   await conn.open();
 *   await conn.produceRows(conn.topicOf('orders'), messages, sizes);
 */
export class ExtractConnection {
  kafka?: KafkaClient;
  producer?: Producer;
  db?: pg.Client;
  serde?: AvroSerde;
  /** Value schema id per table, known after `open`. */
  readonly schemaIds = new Map<OltpTable, number>();

  private readonly cfg: Config;
  private readonly source: PostgresIncrementalSourceConfig;
  readonly database: string;

  constructor(cfg: Config, source: PostgresIncrementalSourceConfig, database: string) {
    this.cfg = cfg;
    this.source = source;
    this.database = database;
  }

  /** The event topic of a table. */
  topicOf(table: OltpTable): string {
    return `${this.source.topicPrefix}${table}`;
  }

  async open(): Promise<void> {
    this.kafka = createKafkaClient(this.cfg, `${this.cfg.kafkaClientId}-extract`);
    if (this.source.createTopics) await this.createTopics(this.kafka);
    await this.registerSchemas();
    this.producer = await this.connectProducer(this.kafka);
    this.db = await this.connectPostgres();
  }

  private async createTopics(kafka: KafkaClient): Promise<void> {
    const admin = kafka.admin();
    const topics = [
      ...this.source.tables.map((t) => ({ topic: this.topicOf(t) })),
      { topic: this.source.positionsTopic, compacted: true },
    ];
    try {
      await admin.connect();
      const created = await ensureTopics(admin, topics, {
        partitions: this.cfg.topicPartitions,
        replicationFactor: this.cfg.topicReplication,
      });
      if (created.length) log.info({ topics: created }, 'created extract topics');
    } catch (err) {
      throw asSluiceError(err, 'KAFKA_CONNECT_FAILED');
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  private async registerSchemas(): Promise<void> {
    const registry = createRegistryClient(this.cfg);
    this.serde = createAvroSerde(registry, { maxMessageBytes: this.cfg.maxMessageBytes });
    for (const table of this.source.tables) {
      const id = await registry.register(subjectFor(this.topicOf(table)), loadSchema(`oltp.${table}`));
      this.schemaIds.set(table, id);
    }
    // Pages are encoded synchronously; the serde learns each writer schema once, here.
    await this.serde.prepareIds(this.schemaIds.values());
  }

  private async connectProducer(kafka: KafkaClient): Promise<Producer> {
    const producer = kafka.producer();
    try {
      await producer.connect();
    } catch (err) {
      throw new SluiceError(
        'KAFKA_CONNECT_FAILED',
        `cannot connect the extract producer to ${this.cfg.kafkaBrokers}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return producer;
  }

  private async connectPostgres(): Promise<pg.Client> {
    const conf = pgConnection(this.cfg, this.database);
    // Named, so other extractors' horizon queries can tell its read-only snapshots apart.
    const client = new pg.Client({ ...conf, application_name: 'sluice-extract' });
    try {
      await client.connect();
      await client.query(`set timezone = 'UTC'`);
    } catch (err) {
      await client.end().catch(() => {});
      throw new SluiceError(
        'PG_QUERY_FAILED',
        `cannot connect to Postgres database "${this.database}" at ${conf.host}:${conf.port}: ` +
          (err as Error).message,
        { cause: err },
      );
    }
    return client;
  }

  /** Produces `messages` to `topic`, resolving once every in-sync replica has them (acks -1). */
  async send(topic: string, messages: Message[]): Promise<void> {
    try {
      await this.producer!.send({ topic, acks: -1, messages });
    } catch (err) {
      throw new SluiceError(
        'KAFKA_PRODUCE_FAILED',
        `producing ${messages.length} records to ${topic}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  /** Produces a page in requests of at most MAX_REQUEST_BYTES (`sizes` per message). */
  async produceRows(topic: string, messages: Message[], sizes: number[]): Promise<void> {
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < messages.length; i++) {
      if (i > start && bytes + sizes[i] > MAX_REQUEST_BYTES) {
        await this.send(topic, messages.slice(start, i));
        start = i;
        bytes = 0;
      }
      bytes += sizes[i];
    }
    if (start < messages.length) await this.send(topic, messages.slice(start));
  }

  /** Closes whatever is open; never throws. */
  async close(): Promise<void> {
    const { db, producer } = this;
    this.db = undefined;
    this.producer = undefined;
    await Promise.all([db?.end().catch(() => {}), producer?.disconnect().catch(() => {})]);
  }
}
