/**
 * The kafkajs types the rest of Sluice sees. Only src/kafka imports kafkajs, so the client
 * could be replaced in one folder.
 */
export type {
  Admin,
  Consumer,
  Producer,
  EachBatchPayload,
  KafkaMessage,
  IHeaders,
  Message,
  RecordMetadata,
  Transaction,
} from 'kafkajs';
export { CompressionTypes } from 'kafkajs';
