import pg from 'pg';
import { type Config, pgConnection } from '../../../src/config/config.ts';
import { asSluiceError, SluiceError } from '../../../src/core/errors.ts';
import { createLogger } from '../../../src/core/log.ts';
import { loadSchema, subjectFor } from '../../../src/domain/schemas.ts';
import { createKafkaClient, type KafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import type { Message, Producer } from '../../../src/kafka/kafkaTypes.ts';
import { retryKafka } from '../../../src/kafka/retryKafka.ts';
import { type AvroSerde, createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import type { OltpTable } from '../../../src/shop/oltp/oltpTables.ts';
import type { PostgresCdcSourceConfig } from './config.ts';

const log = createLogger('cdc.postgres');

/** Every column as the server's text (the snapshot then decodes exactly as the stream does). */
const TEXT_TYPES = { getTypeParser: () => (value: string) => value };

/** Records of one topic to produce, in order. */
export interface TopicBatch {
  topic: string;
  messages: Message[];
}

/**
 * The CDC source's connections besides the replication stream: Kafka (event topics and the
 * compacted state topic created, an idempotent producer acknowledged by every in-sync replica),
 * the registry (schemas registered, ids learnt by the serde) and a Postgres session for slot,
 * publication and lag queries. `open` does the I/O; the constructor none.
 */
export class CdcConnection {
  kafka?: KafkaClient;
  producer?: Producer;
  serde?: AvroSerde;
  db?: pg.Client;
  readonly schemaIds = new Map<OltpTable, number>();
  private readonly cfg: Config;
  private readonly source: PostgresCdcSourceConfig;

  constructor(cfg: Config, source: PostgresCdcSourceConfig) {
    this.cfg = cfg;
    this.source = source;
  }

  topicOf(table: OltpTable): string {
    return `${this.source.topicPrefix}${table}`;
  }

  /** The Postgres settings of the source database (for the replication and snapshot sessions). */
  pgConfig(applicationName: string): pg.ClientConfig {
    return { ...pgConnection(this.cfg, this.source.database), application_name: applicationName };
  }

  async open(): Promise<void> {
    this.kafka = createKafkaClient(this.cfg, `${this.cfg.kafkaClientId}-cdc`);
    await this.createTopics(this.kafka);
    const registry = createRegistryClient(this.cfg);
    this.serde = createAvroSerde(registry, { maxMessageBytes: this.cfg.maxMessageBytes });
    for (const table of this.source.tables) {
      this.schemaIds.set(table, await registry.register(subjectFor(this.topicOf(table)), loadSchema(`oltp.${table}`)));
    }
    await this.serde.prepareIds(this.schemaIds.values());
    this.producer = this.kafka.producer();
    await retryKafka(() => this.producer!.connect(), 'connecting the CDC producer');
    this.db = await this.connectPostgres('sluice-cdc', false);
  }

  private async createTopics(kafka: KafkaClient): Promise<void> {
    const admin = kafka.admin();
    const topics = [
      ...this.source.tables.map((t) => ({ topic: this.topicOf(t) })),
      { topic: this.source.stateTopic, compacted: true },
    ];
    try {
      await admin.connect();
      const created = await ensureTopics(admin, topics, {
        partitions: this.cfg.topicPartitions,
        replicationFactor: this.cfg.topicReplication,
      });
      if (created.length) log.info({ topics: created }, 'created CDC topics');
    } catch (err) {
      throw asSluiceError(err, 'KAFKA_CONNECT_FAILED');
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  /** A session on the source database in UTC; `textValues`: every column read as text. */
  async connectPostgres(applicationName: string, textValues: boolean): Promise<pg.Client> {
    const conf = this.pgConfig(applicationName);
    const client = new pg.Client({ ...conf, ...(textValues ? { types: TEXT_TYPES } : {}) });
    try {
      await client.connect();
      await client.query(`set timezone = 'UTC'; set datestyle = 'ISO'`);
    } catch (err) {
      await client.end().catch(() => {});
      throw new SluiceError(
        'PG_QUERY_FAILED',
        `cannot connect to Postgres database "${conf.database}" at ${conf.host}:${conf.port}: ` +
          (err as Error).message,
        { cause: err },
      );
    }
    return client;
  }

  /** Produces the batches in order, resolving once every in-sync replica has them (acks -1). */
  async produce(batches: TopicBatch[]): Promise<void> {
    const topicMessages = batches.filter((b) => b.messages.length);
    if (!topicMessages.length) return;
    const count = topicMessages.reduce((n, b) => n + b.messages.length, 0);
    try {
      await retryKafka(() => this.producer!.sendBatch({ acks: -1, topicMessages }), `producing ${count} CDC records`);
    } catch (err) {
      throw asSluiceError(err, 'KAFKA_PRODUCE_FAILED');
    }
  }

  /** Closes whatever is open; never throws. */
  async close(): Promise<void> {
    const { db, producer } = this;
    this.db = undefined;
    this.producer = undefined;
    await Promise.all([db?.end().catch(() => {}), producer?.disconnect().catch(() => {})]);
  }
}
