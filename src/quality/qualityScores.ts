import type { Config } from '../config/config.ts';
import { createKafkaClient, type KafkaClient } from '../kafka/createKafkaClient.ts';
import { readRange } from '../kafka/readRange.ts';
import { retryKafka } from '../kafka/retryKafka.ts';
import type { TopologyDefinition } from '../topology/types.ts';
import { expectationId } from './qualityCounts.ts';
import {
  decodeQualityMinute,
  type ExpectationWindows,
  QualityLedger,
  windowCounts,
  windowStart,
} from './qualityLedger.ts';
import { type DeclaredSuite, declaredSuites } from './qualitySuites.ts';
import { TOPOLOGIES } from '../../topologies/index.ts';
import {
  DECIDING_WINDOW,
  MINUTE_MS,
  QUALITY_WINDOW_NAMES,
  type QualityState,
  type QualityThreshold,
  type QualityThresholdEntry,
  type QualityWindow,
  qualityState,
  thresholdOf,
  VALID_EXPECTATION,
} from './qualityThresholds.ts';
import type { WindowCounts } from './qualityLedger.ts';

export type { QualityState, QualityThreshold, QualityWindow } from './qualityThresholds.ts';

/** Counts over one window, with the state the expectation's threshold gives them. */
export interface WindowCountsWithState extends WindowCounts {
  state: QualityState;
}

/** One expectation's score: its counts, pass rate and state over every window, and its threshold. */
export interface QualityScore {
  topology: string;
  topic: string;
  /** The rule's name, or `valid` (the record decodes against its schema). */
  rule: string;
  kind: string;
  /** What the expectation checks, in words (empty for one no known topology declares). */
  check: string;
  threshold: QualityThreshold;
  windows: Record<QualityWindow, WindowCountsWithState>;
  /** The state over DECIDING_WINDOW (1h). */
  state: QualityState;
  /** Declared by a topology this build knows (false: only seen in the published counts). */
  declared: boolean;
}

export interface ReadQualityScoresOptions {
  /** The moment the windows end at (default: now). */
  now?: number;
  /** Suites to report even without data (default: every topology of topologies/index.ts). */
  topologies?: readonly TopologyDefinition[];
  kafka?: KafkaClient;
  signal?: AbortSignal;
  /** Read only the counts this window needs (default 1d: all); the longer windows are then incomplete. */
  readWindow?: QualityWindow;
}

/**
 * Every expectation's quality score now: reads the last day of per-minute counts every runner
 * published to SLUICE_QUALITY_TOPIC, adds the replicas up, and judges each window by the
 * expectation's threshold (SLUICE_QUALITY_THRESHOLDS). Declared expectations without data are
 * `no_data`; counts of expectations no known topology declares (another build, a test) are
 * reported too. The topic missing means no data anywhere.
 *
 * @example
 *   const scores = await readQualityScores(loadConfig(), { now: Date.now() });
 *   const alerts = scores.filter((s) => s.state === 'alert'); // s.windows['5m'].ratio, s.threshold.alertBelow, ...
 */
export async function readQualityScores(cfg: Config, opts: ReadQualityScoresOptions = {}): Promise<QualityScore[]> {
  const now = opts.now ?? Date.now();
  const kafka = opts.kafka ?? createKafkaClient(cfg, `${cfg.kafkaClientId}-quality`, { quiet: true });
  const ledger = await readQualityLedger(kafka, cfg.qualityTopic, now, opts.signal, opts.readWindow);
  const suites = declaredSuites(opts.topologies ?? Object.values(TOPOLOGIES));
  return scoresOf(ledger.windows(now), suites, cfg.qualityThresholds);
}

/** The published per-minute counts of the last day (or `window`), plus a minute, at `now`, in a ledger. */
export async function readQualityLedger(
  kafka: KafkaClient,
  topic: string,
  now: number,
  signal?: AbortSignal,
  window: QualityWindow = '1d',
): Promise<QualityLedger> {
  const ledger = new QualityLedger();
  const admin = kafka.admin();
  await admin.connect();
  let from: Map<number, bigint>;
  try {
    if (!(await retryKafka(() => admin.listTopics(), 'listing topics')).includes(topic)) return ledger;
    // Records are stamped when published; a minute's last record comes at its end, or later.
    const since = windowStart(window, now) - MINUTE_MS;
    const starts = await retryKafka(() => admin.fetchTopicOffsetsByTimestamp(topic, since), `offsets of ${topic}`);
    from = new Map(starts.map((s) => [s.partition, BigInt(s.offset)]));
  } finally {
    await admin.disconnect().catch(() => {});
  }
  await readRange(
    kafka,
    topic,
    (r) => {
      const m = decodeQualityMinute(r.value);
      if (m) ledger.add(m);
    },
    { from, purpose: 'reading the quality counts', signal },
  );
  ledger.prune(now);
  return ledger;
}

/**
 * Declared suites joined with measured windows: each declared expectation in pipeline order
 * (no_data when nothing was counted), then measured ones no suite declares.
 */
export function scoresOf(
  measured: readonly ExpectationWindows[],
  suites: readonly DeclaredSuite[],
  thresholds: readonly QualityThresholdEntry[],
): QualityScore[] {
  const byId = new Map(measured.map((m) => [expectationId(m), m]));
  const out: QualityScore[] = [];
  const score = (topology: string, topic: string, rule: string, kind: string, check: string, declared: boolean) => {
    const id = expectationId({ topology, topic, rule });
    const m = byId.get(id);
    byId.delete(id);
    const threshold = thresholdOf(thresholds, topic, rule);
    const windows = Object.fromEntries(
      QUALITY_WINDOW_NAMES.map((w) => {
        const c = m?.windows[w] ?? windowCounts(0, 0);
        return [w, { ...c, state: qualityState(c.ratio, threshold) }];
      }),
    ) as Record<QualityWindow, WindowCountsWithState>;
    out.push({
      topology,
      topic,
      rule,
      kind,
      check,
      threshold,
      windows,
      state: windows[DECIDING_WINDOW].state,
      declared,
    });
  };
  for (const s of suites) for (const e of s.expectations) score(s.topology, s.topic, e.rule, e.kind, e.check, true);
  const rest = [...byId.values()].sort((a, b) => expectationId(a).localeCompare(expectationId(b)));
  for (const m of rest)
    score(m.topology, m.topic, m.rule, m.rule === VALID_EXPECTATION ? VALID_EXPECTATION : 'rule', '', false);
  return out;
}
