import { writerPiiFields } from '../admin/writerPiiFields.ts';
import type { Config } from '../config/config.ts';
import { createKafkaClient, type KafkaClient } from '../kafka/createKafkaClient.ts';
import { type AvroSerde, createAvroSerde } from '../serde/avroSerde.ts';
import { createRegistryClient } from '../serde/schemaRegistry.ts';
import { createGoldReader, type GoldReader } from './goldReader.ts';

/**
 * What the tools and resources of one `sluice mcp` process share, made once (the HTTP transport
 * builds a server per request around them): the configuration, a Kafka client for the bounded
 * reads, the registry serde, the writer schemas' PII marks (cached by schema id) and the gold reader.
 */
export interface McpDeps {
  cfg: Config;
  kafka: KafkaClient;
  serde: AvroSerde;
  /** Fields the writer schema of an id marks `sluice.pii` (shown `[redacted]`, as `sluice inspect` does). */
  piiMarksOf: (schemaId: number) => Promise<string[]>;
  gold: GoldReader;
  close(): Promise<void>;
}

/** Creates the shared parts; no I/O until a tool runs (the reader role is set up by the command). */
export function createMcpDeps(cfg: Config): McpDeps {
  const gold = createGoldReader(cfg);
  return {
    cfg,
    kafka: createKafkaClient(cfg, `${cfg.kafkaClientId}-mcp`, { retries: 3, quiet: true }),
    serde: createAvroSerde(createRegistryClient(cfg), { maxMessageBytes: cfg.maxMessageBytes }),
    piiMarksOf: writerPiiFields(cfg),
    gold,
    close: () => gold.close(),
  };
}
