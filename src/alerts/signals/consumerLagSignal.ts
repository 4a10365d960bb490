import type { KafkaClient } from '../../kafka/createKafkaClient.ts';
import type { Admin } from '../../kafka/kafkaTypes.ts';
import { retryKafka } from '../../kafka/retryKafka.ts';
import type { Observation, SignalSource } from '../observation.ts';
import { magnitude, type Sample, sampleHistory, windowBase } from './sampleHistory.ts';

export interface ConsumerLagOptions {
  kafka: KafkaClient;
  /** The runner groups watched (`sluice-<topology>`, or the configured group ids). */
  groups: readonly string[];
  /** How long the lag must have grown, never shrinking, before it fires. */
  growingForMs: number;
  now?: () => number;
}

/**
 * Whether a group's lag has been growing for the whole period: samples spanning at least
 * `growingForMs`, none smaller than the one before, the last above the first. Unknown until the
 * samples span the period.
 */
export function lagObservation(group: string, samples: readonly Sample[], growingForMs: number): Observation {
  const last = samples[samples.length - 1];
  const base = windowBase(samples, growingForMs);
  const spanMs = base && last ? last.at - base.at : 0;
  const unknown: Observation = {
    rule: 'consumer_lag_growing',
    subject: group,
    state: 'unknown',
    summary: 'not enough samples',
    evidence: {},
  };
  if (!base || !last) return unknown;
  const window = samples.slice(samples.indexOf(base));
  const neverShrank = window.every((s, i) => i === 0 || s.value >= window[i - 1].value);
  const growing = neverShrank && last.value > base.value;
  // Growing, but not yet for the whole period: too early to tell either way.
  if (growing && spanMs < growingForMs) return unknown;
  return {
    rule: 'consumer_lag_growing',
    subject: group,
    state: growing ? 'firing' : 'ok',
    summary:
      `lag ${last.value} records, ${base.value} ${Math.round(spanMs / 1000)} s ago` +
      (growing ? ': growing, never shrinking' : ''),
    evidence: {
      lag: last.value,
      lagBefore: base.value,
      growingForSeconds: Math.round(spanMs / 1000),
      magnitude: magnitude(last.value, Math.max(1, base.value)),
    },
    significant: ['magnitude'],
  };
}

/** A group's lag: end minus committed offsets over the partitions it committed on; undefined without any. */
export async function groupLag(admin: Admin, groupId: string): Promise<number | undefined> {
  const committed = await retryKafka(() => admin.fetchOffsets({ groupId }), `offsets of group ${groupId}`);
  let lag = 0;
  let any = false;
  for (const t of committed) {
    const partitions = t.partitions.filter((p) => Number(p.offset) >= 0);
    if (!partitions.length) continue;
    const ends = await retryKafka(() => admin.fetchTopicOffsets(t.topic), `end offsets of ${t.topic}`);
    const high = new Map(ends.map((e) => [e.partition, Number(e.high)]));
    for (const p of partitions) {
      any = true;
      lag += Math.max(0, (high.get(p.partition) ?? 0) - Number(p.offset));
    }
  }
  return any ? lag : undefined;
}

/**
 * Consumer lag of the runner groups from admin offsets (committed vs topic ends), sampled at each
 * evaluation: fires when it has grown for `growingForMs` without shrinking — a runner that stopped
 * committing while input keeps coming. A group with no committed offset is not reported.
 *
 * @example consumerLagSignal({ kafka, groups: ['sluice-orders'], growingForMs: 300_000 })
 */
export function consumerLagSignal(opts: ConsumerLagOptions): SignalSource {
  const history = sampleHistory(opts.growingForMs);
  const now = opts.now ?? Date.now;
  return {
    name: 'consumer-lag',
    rules: ['consumer_lag_growing'],
    async observe() {
      const admin = opts.kafka.admin();
      await admin.connect();
      try {
        const out: Observation[] = [];
        for (const group of opts.groups) {
          const lag = await groupLag(admin, group);
          if (lag === undefined) continue;
          out.push(lagObservation(group, history.add(group, now(), lag), opts.growingForMs));
        }
        return out;
      } finally {
        await admin.disconnect().catch(() => {});
      }
    },
  };
}
