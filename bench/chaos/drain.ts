import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../src/config/config.ts';
import { loadSchema, subjectFor } from '../../src/domain/schemas.ts';
import { CLICKSTREAM_TOPIC } from '../../src/shop/generate/clickstreamGenerator.ts';
import type { KafkaClient } from '../../src/kafka/createKafkaClient.ts';
import { createAvroSerde } from '../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../src/serde/schemaRegistry.ts';
import { TOPOLOGIES } from '../../topologies/index.ts';
import type { RunnerFleet } from './runnerFleet.ts';
import { groupLags, type GroupLag } from './topicReader.ts';

/**
 * The end of a run: wait until the runners have nothing left to do, then close the last windows.
 * Windows close on event time, and the generators' event times stop near "now": a sentinel click
 * 8 minutes ahead (inside the clickstream topology's 10-minute future tolerance) moves event time
 * past every window's end + grace once every other upstream partition has gone idle (the idle
 * timeout, 30 s). The sentinel's own windows (its session, its funnel window) stay open and are
 * left out of the checks.
 */

export const SENTINEL_SESSION = 'chaos-sentinel';
export const SENTINEL_AHEAD_MS = 8 * 60_000;
/** The metrics topology's idle timeout (topologies/metrics.ts default). */
const IDLE_TIMEOUT_MS = 30_000;

/** Consumer group and source topics of every topology (`sluice-<name>`). */
export function topologyGroups(): Record<string, string[]> {
  return Object.fromEntries(Object.values(TOPOLOGIES).map((t) => [`sluice-${t.name}`, t.sources.map((s) => s.topic)]));
}

export interface DrainResult {
  sentinelTime: number;
  quietBeforeSentinelMs: number;
  quietAfterSentinelMs: number;
  timedOut: boolean;
  /** High watermark − committed offset per group at the end (under exactly_once a trailing commit marker counts 1). */
  residualLag: Record<string, GroupLag>;
}

/** Until topic ends and committed offsets stay put for `quietMs` and the runners hold nothing in flight. */
async function waitQuiet(
  kafka: KafkaClient,
  fleet: RunnerFleet,
  opts: {
    quietMs: number;
    deadline: number;
    label: string;
    ignore?: (topic: string) => boolean;
    say: (l: string) => void;
  },
): Promise<boolean> {
  const groups = topologyGroups();
  let last = '';
  let lastEnds: Record<string, string> = {};
  let moving = new Set<string>();
  let stableSince = Date.now();
  let lastSay = 0;
  while (Date.now() < opts.deadline) {
    const [lags, ends, ready] = await Promise.all([
      groupLags(kafka, groups).catch(() => undefined),
      topicEnds(kafka, opts.ignore).catch(() => undefined),
      Promise.all(fleet.alive().map((s) => fleet.readyz(s))),
    ]);
    const inFlight = ready.reduce((n, r) => n + (r?.topologies?.reduce((m, t) => m + t.inFlight, 0) ?? 1), 0);
    const state = JSON.stringify([lags, ends]);
    if (ends) {
      for (const [t, e] of Object.entries(ends)) if (lastEnds[t] !== e) moving.add(t);
      lastEnds = ends;
    }
    if (!lags || !ends || state !== last || inFlight > 0) {
      last = state;
      stableSince = Date.now();
    }
    const totalLag = lags ? Object.values(lags).reduce((n, g) => n + g.lag, 0) : NaN;
    if (Date.now() - lastSay > 10_000) {
      lastSay = Date.now();
      const lagging = lags
        ? Object.entries(lags)
            .filter(([, g]) => g.lag > 0)
            .map(([g, l]) => `${g} ${l.lag}`)
            .join(', ')
        : '?';
      opts.say(
        `${opts.label}: lag ${totalLag} (${lagging || 'HW − committed, every group'}), in flight ${inFlight}, stable for ${Math.round((Date.now() - stableSince) / 1000)}s${moving.size ? `; growing: ${[...moving].slice(0, 6).join(', ')}` : ''}`,
      );
      moving = new Set();
    }
    if (Date.now() - stableSince >= opts.quietMs) return true;
    await sleep(1000);
  }
  return false;
}

async function topicEnds(
  kafka: KafkaClient,
  ignore: (topic: string) => boolean = () => false,
): Promise<Record<string, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Changelogs take a checkpoint on every window tick, whether or not anything changed.
    const topics = (await admin.listTopics())
      .filter((t) => !t.startsWith('__') && !t.endsWith('.changelog') && !ignore(t))
      .sort();
    const ends = await Promise.all(
      topics.map(async (t) => [t, (await admin.fetchTopicOffsets(t)).map((p) => p.high).join(',')] as const),
    );
    return Object.fromEntries(ends);
  } finally {
    await admin.disconnect();
  }
}

/** Produces the sentinel click (a valid page view, far enough ahead to close every window). */
async function produceSentinel(cfg: Config, kafka: KafkaClient): Promise<number> {
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const schemaId = await registry.register(subjectFor(CLICKSTREAM_TOPIC), loadSchema(CLICKSTREAM_TOPIC));
  const time = Date.now() + SENTINEL_AHEAD_MS;
  const value = await serde.encode(schemaId, {
    event_id: `chaos-sentinel-${randomUUID()}`,
    event_type: 'page_view',
    session_id: SENTINEL_SESSION,
    customer_id: null,
    event_time: time,
    page_url: '/',
    product_id: null,
    quantity: null,
    price: null,
    order_id: null,
    user_agent: 'sluice-chaos',
  });
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic: CLICKSTREAM_TOPIC, acks: -1, messages: [{ key: SENTINEL_SESSION, value }] });
  } finally {
    await producer.disconnect();
  }
  return time;
}

export async function drain(
  cfg: Config,
  kafka: KafkaClient,
  fleet: RunnerFleet,
  opts: { timeoutMs: number; say: (l: string) => void },
): Promise<DrainResult> {
  const deadline = Date.now() + opts.timeoutMs;
  let t0 = Date.now();
  // Results keep coming while event time creeps on with the wall clock (the idle timeout): the
  // inputs being consumed is what lets the sentinel go, not the metrics topics standing still.
  const quiet1 = await waitQuiet(kafka, fleet, {
    quietMs: 10_000,
    deadline,
    label: 'drain',
    ignore: (t) => t.startsWith('metrics.'),
    say: opts.say,
  });
  const quietBeforeSentinelMs = Date.now() - t0;
  opts.say(
    `drain: ${quiet1 ? 'quiet' : 'NOT quiet (time bound)'} after ${(quietBeforeSentinelMs / 1000).toFixed(0)}s; sentinel click ${SENTINEL_AHEAD_MS / 60_000} min ahead to close the last windows`,
  );
  const sentinelTime = await produceSentinel(cfg, kafka);
  t0 = Date.now();
  // Every upstream partition must go idle before event time moves with the sentinel; then the timer closes windows.
  await sleep(IDLE_TIMEOUT_MS + 10_000);
  const quiet2 = await waitQuiet(kafka, fleet, {
    quietMs: 10_000,
    deadline: Math.max(deadline, Date.now() + 120_000),
    label: 'closing windows',
    say: opts.say,
  });
  const quietAfterSentinelMs = Date.now() - t0;
  const residualLag = await groupLags(kafka, topologyGroups());
  return { sentinelTime, quietBeforeSentinelMs, quietAfterSentinelMs, timedOut: !quiet1 || !quiet2, residualLag };
}
