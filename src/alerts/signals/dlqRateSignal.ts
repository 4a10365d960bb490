import { isDlqTopic } from '../../admin/listTopics.ts';
import type { KafkaClient } from '../../kafka/createKafkaClient.ts';
import { retryKafka } from '../../kafka/retryKafka.ts';
import type { Observation, SignalSource } from '../observation.ts';
import { magnitude, type Sample, sampleHistory, windowBase } from './sampleHistory.ts';

export interface DlqRateOptions {
  kafka: KafkaClient;
  /** Records per minute above which a DLQ topic fires. */
  ratePerMinute: number;
  /** The window the rate is measured over. */
  windowMs: number;
  /** Which topics are watched (default: every `*.dlq`). */
  isWatched?: (topic: string) => boolean;
  now?: () => number;
}

/**
 * The rate of one DLQ topic from its end-offset samples: records added since the window's base,
 * per minute of the time between them. Unknown until there are two samples.
 */
export function dlqRateObservation(
  topic: string,
  samples: readonly Sample[],
  opts: Pick<DlqRateOptions, 'ratePerMinute' | 'windowMs'>,
): Observation {
  const base = windowBase(samples, opts.windowMs);
  const last = samples[samples.length - 1];
  if (!base || !last || last.at <= base.at)
    return {
      rule: 'dlq_rate_high',
      subject: topic,
      state: 'unknown',
      summary: 'first sample',
      evidence: {},
    };
  const records = Math.max(0, last.value - base.value);
  const minutes = (last.at - base.at) / 60_000;
  const perMinute = Math.round((records / minutes) * 100) / 100;
  return {
    rule: 'dlq_rate_high',
    subject: topic,
    state: perMinute > opts.ratePerMinute ? 'firing' : 'ok',
    summary:
      `${perMinute} dead letters/min (${records} in ${Math.round(minutes * 60)} s; ` +
      `alert above ${opts.ratePerMinute}/min)`,
    evidence: {
      records,
      windowSeconds: Math.round(minutes * 60),
      perMinute,
      thresholdPerMinute: opts.ratePerMinute,
      endOffset: last.value,
      magnitude: magnitude(perMinute, opts.ratePerMinute),
    },
    // Updated when the rate moves by a factor of ten, not on every evaluation.
    significant: ['magnitude'],
  };
}

/**
 * Dead letters per minute of every DLQ topic, from its end offsets over time (the sum over its
 * partitions grows by one per dead letter): a few admin requests per evaluation, no record read.
 *
 * @example dlqRateSignal({ kafka, ratePerMinute: 10, windowMs: 300_000 })
 */
export function dlqRateSignal(opts: DlqRateOptions): SignalSource {
  const history = sampleHistory(opts.windowMs);
  const now = opts.now ?? Date.now;
  const watched = opts.isWatched ?? ((t: string) => isDlqTopic(t) && !t.endsWith('.parked'));
  return {
    name: 'dlq-rate',
    rules: ['dlq_rate_high'],
    async observe() {
      const admin = opts.kafka.admin();
      await admin.connect();
      try {
        const topics = (await retryKafka(() => admin.listTopics(), 'listing topics')).filter(watched).sort();
        const out: Observation[] = [];
        for (const topic of topics) {
          const offsets = await retryKafka(() => admin.fetchTopicOffsets(topic), `end offsets of ${topic}`);
          const total = offsets.reduce((n, o) => n + Number(o.high), 0);
          out.push(dlqRateObservation(topic, history.add(topic, now(), total), opts));
        }
        history.retain(new Set(topics));
        return out;
      } finally {
        await admin.disconnect().catch(() => {});
      }
    },
  };
}
