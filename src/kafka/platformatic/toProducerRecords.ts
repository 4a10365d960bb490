import type { MessageToProduce, ProduceResult } from '@platformatic/kafka';
import type { IHeaders, Message, RecordMetadata } from '../kafkaTypes.ts';

const asBuffer = (v: Buffer | string) => (Buffer.isBuffer(v) ? v : Buffer.from(v));

/**
 * kafkajs messages of one topic as @platformatic/kafka records: strings become UTF-8 Buffers (its
 * default serialisers take Buffers only), a null value stays null (a tombstone), headers become a
 * Map keyed by distinct Buffers so a repeated name (kafkajs' array value) keeps every value, and
 * the millisecond timestamp string becomes a bigint. No key and no partition: the partitioner
 * spreads the records round robin.
 *
 * @example
 *   toProducerRecords('orders', [{ key: 'o-1', value: Buffer.from('…'), headers: { source: 'web' } }]);
 */
export function toProducerRecords(topic: string, messages: Message[]): MessageToProduce[] {
  return messages.map((m) => {
    const record: MessageToProduce = {
      topic,
      // Required by @platformatic/kafka's message schema even when null (a tombstone).
      value: (m.value === null || m.value === undefined ? null : asBuffer(m.value)) as Buffer,
    };
    if (m.key !== null && m.key !== undefined) record.key = asBuffer(m.key);
    if (m.partition !== null && m.partition !== undefined) record.partition = m.partition;
    if (m.timestamp !== undefined && m.timestamp !== null) record.timestamp = BigInt(m.timestamp);
    if (m.headers) record.headers = headerMap(m.headers) as unknown as Map<Buffer, Buffer>;
    return record;
  });
}

function headerMap(headers: IHeaders): Map<Buffer, Buffer | null> {
  const map = new Map<Buffer, Buffer | null>();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      map.set(Buffer.from(name), v === null ? null : asBuffer(v));
    }
  }
  return map;
}

/** What a send resolves to, as kafkajs reports it: one entry per partition written, with its base offset. */
export function toRecordMetadata(result: ProduceResult): RecordMetadata[] {
  return (result.offsets ?? []).map((o) => ({
    topicName: o.topic,
    partition: o.partition,
    errorCode: 0,
    baseOffset: o.offset.toString(),
  }));
}
