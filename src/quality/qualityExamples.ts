import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import { readRange } from '../kafka/readRange.ts';
import { retryKafka } from '../kafka/retryKafka.ts';
import { VALID_EXPECTATION } from './qualityThresholds.ts';

/**
 * Example failures of an expectation, from the headers of its dead letters (SPEC §5): where the
 * record was (key, partition, offset), when, why. Never the record: values quoted in a rule's
 * message (`status="x" is not one of ...`) and anything shaped like an email address are masked,
 * and the key is cut short.
 */
export interface QualityExample {
  key: string | null;
  /** The source record's partition and offset (`sluice.error.partition` / `.offset`). */
  partition: number;
  offset: string;
  reason: string;
  /** The rule's message with values masked. */
  message: string;
  /** When it was dead-lettered (epoch ms). */
  at: number;
}

/** Dead letters read back per DLQ partition, newest first. */
const TAIL_PER_PARTITION = 500;
const MAX_KEY_CHARS = 64;

const EMAIL = /[^\s@"'=,;:<>()]+@[^\s@"'=,;:<>()]+\.[A-Za-z]{2,}/g;
/** `field=value` as rules write it, up to the words that follow the value. */
const FIELD_VALUE = /\b([A-Za-z_][\w.]*)=(.+?)(?=(?: is | not found in | does not )|[,;]\s|$)/g;

/**
 * A dead letter's message as a report may show it: the values it quotes masked.
 *
 * @example maskMessage('email="a@b.io" is not one of x, y') // 'email=*** is not one of x, y'
 */
export function maskMessage(message: string): string {
  return message.replace(FIELD_VALUE, '$1=***').replace(EMAIL, '***@***');
}

/** Which expectation a dead letter counts against: its rule, or `valid` for a decode failure. */
export function expectationOfDeadLetter(headers: Record<string, string>): string | undefined {
  const reason = headers['sluice.error.reason'];
  if (reason === 'rule') return headers['sluice.error.rule'] || undefined;
  if (reason === 'deserialize' || reason === 'schema') return VALID_EXPECTATION;
  return undefined;
}

/**
 * The newest `perExpectation` dead letters of each wanted expectation of one suite, from the last
 * records of its DLQ topic (`sluice.error.topology` and `.topic` name the suite).
 *
 * @example
 *   const suite = { topology: 'orders', topic: 'oltp.orders', dlq: 'oltp.orders.dlq' };
 *   await exampleFailures(kafka, suite, new Set(['order_status_known']));
 */
export async function exampleFailures(
  kafka: KafkaClient,
  suite: { topology: string; topic: string; dlq: string },
  wanted: ReadonlySet<string>,
  perExpectation = 3,
): Promise<Map<string, QualityExample[]>> {
  const out = new Map<string, QualityExample[]>();
  if (!wanted.size) return out;
  const admin = kafka.admin();
  await admin.connect();
  let from: Map<number, bigint>;
  try {
    if (!(await retryKafka(() => admin.listTopics(), 'listing topics')).includes(suite.dlq)) return out;
    const offsets = await retryKafka(() => admin.fetchTopicOffsets(suite.dlq), `end offsets of ${suite.dlq}`);
    from = new Map(
      offsets.map((o) => {
        const start = BigInt(o.high) - BigInt(TAIL_PER_PARTITION);
        return [o.partition, start > BigInt(o.low) ? start : BigInt(o.low)];
      }),
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
  await readRange(
    kafka,
    suite.dlq,
    (r) => {
      const h = r.headers;
      if (h['sluice.error.topology'] !== suite.topology || h['sluice.error.topic'] !== suite.topic) return;
      const rule = expectationOfDeadLetter(h);
      if (!rule || !wanted.has(rule)) return;
      const list = out.get(rule) ?? [];
      list.push({
        key: r.key === null ? null : r.key.toString('utf8').slice(0, MAX_KEY_CHARS),
        partition: Number(h['sluice.error.partition']),
        offset: h['sluice.error.offset'] ?? '',
        reason: h['sluice.error.reason'],
        message: maskMessage(h['sluice.error.message'] ?? ''),
        at: Number(h['sluice.error.timestamp']) || r.timestamp,
      });
      out.set(rule, list);
    },
    { from, purpose: `example failures from ${suite.dlq}` },
  );
  for (const [rule, list] of out) out.set(rule, list.sort((a, b) => b.at - a.at).slice(0, perExpectation));
  return out;
}
