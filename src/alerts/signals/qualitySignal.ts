import type { Config } from '../../config/config.ts';
import type { KafkaClient } from '../../kafka/createKafkaClient.ts';
import { type QualityScore, type QualityWindow, readQualityScores } from '../../quality/qualityScores.ts';
import type { TopologyDefinition } from '../../topology/types.ts';
import type { Observation, SignalSource } from '../observation.ts';

/**
 * One expectation's quality score as the quality reader reports it: its pass rate over a window
 * and the state its thresholds give (`src/quality/qualityThresholds.ts`: ok, warn, alert, no_data).
 */
export interface QualityScoreLike {
  topic: string;
  rule: string;
  window: string;
  ratio: number | null;
  checked: number;
  failed: number;
  state: 'ok' | 'warn' | 'alert' | 'no_data';
  alertBelow?: number;
}

/** A score as an observation of `quality_below_threshold`: firing in the alert state; no data is unknown. */
export function qualityObservation(s: QualityScoreLike): Observation {
  const percent = s.ratio === null ? 'n/a' : `${Math.round(s.ratio * 10_000) / 100} %`;
  const below = s.alertBelow === undefined ? '' : `, alert below ${Math.round(s.alertBelow * 10_000) / 100} %`;
  return {
    rule: 'quality_below_threshold',
    subject: `${s.topic}:${s.rule}`,
    state: s.state === 'alert' ? 'firing' : s.state === 'no_data' ? 'unknown' : 'ok',
    summary: `pass rate ${percent} over ${s.window} (${s.failed} of ${s.checked} failed${below})`,
    evidence: {
      topic: s.topic,
      rule: s.rule,
      window: s.window,
      passRate: s.ratio,
      checked: s.checked,
      failed: s.failed,
      state: s.state,
    },
    significant: ['state'],
  };
}

/**
 * Quality scores (issue 14 item 2) from whatever reads them: `read` answers the scores of the
 * window that decides (the quality reader's), this turns each into an observation.
 *
 * @example qualitySignal({ read: (signal) => readQualityScores(cfg, { kafka, signal }) })
 */
export function qualitySignal(opts: { read: (signal: AbortSignal) => Promise<QualityScoreLike[]> }): SignalSource {
  return {
    name: 'quality',
    rules: ['quality_below_threshold'],
    async observe(signal) {
      return (await opts.read(signal)).map(qualityObservation);
    },
  };
}

/** A quality score over one of its windows, as the signal reads it. */
export function scoreOver(s: QualityScore, window: QualityWindow): QualityScoreLike {
  const w = s.windows[window];
  return {
    topic: s.topic,
    rule: s.rule,
    window,
    ratio: w.ratio,
    checked: w.checked,
    failed: w.failed,
    state: w.state,
    alertBelow: s.threshold.alertBelow,
  };
}

/**
 * The quality scores every runner publishes (`readQualityScores`, what `sluice quality` reports),
 * judged over `window` by each expectation's thresholds (SLUICE_QUALITY_THRESHOLDS).
 *
 * @example qualityScoresSignal(cfg, { kafka, topologies, window: '5m' })
 */
export function qualityScoresSignal(
  cfg: Config,
  opts: { kafka: KafkaClient; topologies: readonly TopologyDefinition[]; window: QualityWindow },
): SignalSource {
  return qualitySignal({
    read: async (signal) =>
      // Only the minutes the window needs: every evaluation would otherwise read a day of counts.
      (
        await readQualityScores(cfg, {
          kafka: opts.kafka,
          topologies: opts.topologies,
          signal,
          readWindow: opts.window,
        })
      ).map((s) => scoreOver(s, opts.window)),
  });
}
