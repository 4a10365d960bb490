import { SluiceError } from '../../../core/errors.ts';
import type { Message, Producer } from '../../../kafka/kafkaTypes.ts';
import { formatRate, sleep, startProgress, TokenBucket } from '../../../core/pacing.ts';
import { CLICK_BAD_KINDS, type ClickMessage } from './clickMessage.ts';
import { emptyClickstreamCounts, tally, type ClickstreamCounts } from './clickstreamCounts.ts';

/** How much of a message stream to produce, and how fast. */
export interface ProduceLimits {
  /** Messages per second; 0 or Infinity: as fast as the broker takes them. */
  rate: number;
  /** Stop after this many messages. */
  count: number;
  /** Stop at this `performance.now()` time. */
  deadline: number;
  /** Messages per produce request. */
  batchSize: number;
  /** Bytes per produce request (a single larger message still goes alone). */
  maxBatchBytes: number;
  signal?: AbortSignal;
  /** Draw a progress line on stderr. */
  progress?: boolean;
}

/** Messages waiting for one produce request, counted once the broker acknowledged them. */
class ClickBatch {
  readonly produced: ClickstreamCounts = emptyClickstreamCounts();
  private messages: Message[] = [];
  private meta: ClickMessage[] = [];
  private bytes = 0;
  lastFlush = performance.now();
  private readonly producer: Producer;
  private readonly topic: string;

  constructor(producer: Producer, topic: string) {
    this.producer = producer;
    this.topic = topic;
  }

  get length(): number {
    return this.messages.length;
  }

  /** Adds a message, first sending what is waiting when the request would grow past `maxBytes`. */
  async add(m: ClickMessage, maxBytes: number): Promise<void> {
    // Keep huge records from sharing a request with many others (the broker limits batch size).
    if (this.bytes + m.value.length > maxBytes) await this.flush();
    this.messages.push({ key: m.key, value: m.value });
    this.meta.push(m);
    this.bytes += m.value.length + (m.key?.length ?? 0);
  }

  async flush(): Promise<void> {
    if (!this.messages.length) return;
    const messages = this.messages;
    const meta = this.meta;
    this.messages = [];
    this.meta = [];
    this.bytes = 0;
    try {
      await this.producer.send({ topic: this.topic, messages, acks: -1, timeout: 30_000 });
    } catch (err) {
      throw new SluiceError('KAFKA_PRODUCE_FAILED', `producing to ${this.topic}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    // Counted once acknowledged: the ground truth is what the topic holds.
    for (const m of meta) tally(this.produced, m);
    this.lastFlush = performance.now();
  }
}

/**
 * Produces messages from `source` to `topic` until the count, the deadline or the signal,
 * rate-limited by a token bucket; returns the counts of what the broker acknowledged.
 */
export async function produceClicks(
  producer: Producer,
  topic: string,
  source: Iterator<ClickMessage>,
  limits: ProduceLimits,
): Promise<ClickstreamCounts> {
  const batch = new ClickBatch(producer, topic);
  const progress = startProgress((ms) => progressLine(topic, batch.produced, ms), { enabled: limits.progress });
  const bucket = new TokenBucket(limits.rate, Math.max(1, limits.rate / 10));
  let generated = 0;
  try {
    while (generated < limits.count && !limits.signal?.aborted && performance.now() < limits.deadline) {
      const n = bucket.take(Math.min(limits.batchSize - batch.length, limits.count - generated));
      if (n === 0) {
        if (batch.length && performance.now() - batch.lastFlush >= 100) await batch.flush();
        else
          await sleep(Math.min(bucket.waitMs(), 100, Math.max(0, limits.deadline - performance.now())), limits.signal);
        continue;
      }
      for (let i = 0; i < n; i++) {
        await batch.add(source.next().value as ClickMessage, limits.maxBatchBytes);
        generated++;
      }
      if (batch.length >= limits.batchSize || bucket.unlimited || performance.now() - batch.lastFlush >= 100)
        await batch.flush();
    }
    await batch.flush();
  } finally {
    progress.stop(false);
  }
  return batch.produced;
}

function progressLine(topic: string, produced: ClickstreamCounts, ms: number): string {
  const bad = CLICK_BAD_KINDS.reduce((s, k) => s + produced.bad[k], 0);
  return (
    `clickstream → ${topic}: ${produced.total.toLocaleString('en')} events (${formatRate(produced.total, ms)})` +
    ` · dup ${produced.duplicates} · late ${produced.late} · bad ${bad}`
  );
}
