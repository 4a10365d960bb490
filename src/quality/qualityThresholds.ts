import { z } from 'zod';
import type { Setting } from '../config/settingSchemas.ts';

/**
 * Quality scores, declared beside what reads them (`qualityScores.ts`, `qualityMetrics.ts`):
 * the sliding windows a pass rate is measured over, the thresholds an expectation is judged by,
 * and the settings (SLUICE_QUALITY_*).
 *
 * An expectation is one rule of a `validate` step on one source topic, or `valid` — the topic's
 * records decode against their schema (input = valid + DLQ `deserialize`/`schema`). Its score over
 * a window is passed / checked: the share of the records it checked that passed. A record a rule
 * never saw (an earlier rule of the step rejected it) is not counted for that rule.
 */

/** What a topic's decode step is counted as: the record is valid Avro of its schema. */
export const VALID_EXPECTATION = 'valid';

/** The windows, newest minutes back from now (the current minute included): 5 min, 1 hour, 1 day. */
export const QUALITY_WINDOWS = { '5m': 5, '1h': 60, '1d': 1440 } as const;
export type QualityWindow = keyof typeof QUALITY_WINDOWS;
export const QUALITY_WINDOW_NAMES = Object.keys(QUALITY_WINDOWS) as QualityWindow[];
/** The window whose state decides an expectation's state (and `sluice quality`'s exit code). */
export const DECIDING_WINDOW: QualityWindow = '1h';

export const MINUTE_MS = 60_000;

/** ok: at or above `okAtOrAbove`; alert: below `alertBelow`; warn between; no_data: nothing checked. */
export type QualityState = 'ok' | 'warn' | 'alert' | 'no_data';

/** Pass-rate thresholds as ratios (0..1). */
export interface QualityThreshold {
  okAtOrAbove: number;
  alertBelow: number;
}

/** Issue 14: "data quality score > 98 %, alert < 95 %". */
export const DEFAULT_QUALITY_THRESHOLD: QualityThreshold = { okAtOrAbove: 0.98, alertBelow: 0.95 };

/**
 * One override: `*` (every expectation), a rule name (on any topic), or `TOPIC:RULE`
 * (`web.clickstream:valid`). The most specific one applies.
 */
export interface QualityThresholdEntry extends QualityThreshold {
  expectation: string;
}

/**
 * The state of a pass rate; `null` (nothing checked) is no_data.
 *
 * @example qualityState(0.96, DEFAULT_QUALITY_THRESHOLD) // 'warn'
 */
export function qualityState(ratio: number | null, t: QualityThreshold): QualityState {
  if (ratio === null) return 'no_data';
  if (ratio < t.alertBelow) return 'alert';
  if (ratio >= t.okAtOrAbove) return 'ok';
  return 'warn';
}

/** The threshold of `rule` on `topic`: `TOPIC:RULE`, else `RULE`, else `*`, else the default. */
export function thresholdOf(entries: readonly QualityThresholdEntry[], topic: string, rule: string): QualityThreshold {
  const find = (name: string) => entries.find((e) => e.expectation === name);
  const e = find(`${topic}:${rule}`) ?? find(rule) ?? find('*');
  return e ? { okAtOrAbove: e.okAtOrAbove, alertBelow: e.alertBelow } : DEFAULT_QUALITY_THRESHOLD;
}

const NAME = /^(\*|[A-Za-z0-9._-]{1,249}:[A-Za-z0-9_.-]+|[A-Za-z0-9_.-]+)$/;

function percent(text: string, entry: string): number {
  const n = Number(text.replace(/%$/, ''));
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new RangeError(`"${entry}": ${text} is not a percentage 0..100`);
  return Number((n / 100).toFixed(10)); // 99.9 → 0.999, not 0.9990000000000001
}

/**
 * Parses SLUICE_QUALITY_THRESHOLDS: comma-separated `EXPECTATION=OK/ALERT` in percent, e.g.
 * `*=99/97,order_status_known=99.5/99,web.clickstream:valid=99.9/99`. Throws a RangeError naming
 * every bad entry.
 */
export function parseQualityThresholds(text: string): QualityThresholdEntry[] {
  const problems: string[] = [];
  const out: QualityThresholdEntry[] = [];
  for (const entry of text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const m = /^([^=\s]+)\s*=\s*([^/\s]+)\s*\/\s*(\S+)$/.exec(entry);
    try {
      if (!m || !NAME.test(m[1]))
        throw new RangeError(`"${entry}" is not EXPECTATION=OK/ALERT (e.g. order_status_known=98/95)`);
      const [okAtOrAbove, alertBelow] = [percent(m[2], entry), percent(m[3], entry)];
      if (alertBelow > okAtOrAbove) throw new RangeError(`"${entry}": the alert threshold is above the ok threshold`);
      if (out.some((e) => e.expectation === m[1])) throw new RangeError(`${m[1]} is listed twice`);
      out.push({ expectation: m[1], okAtOrAbove, alertBelow });
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length) throw new RangeError(problems.join('; '));
  return out;
}

const thresholdListSchema = z.union([z.string(), z.array(z.string())]).transform((v, ctx) => {
  try {
    return parseQualityThresholds(Array.isArray(v) ? v.join(',') : v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** The quality-score settings (SLUICE_QUALITY_*), rows of the one settings table. */
export const QUALITY_SETTINGS = {
  qualityTopic: {
    env: 'SLUICE_QUALITY_TOPIC',
    description:
      'Internal topic the runners publish their per-minute quality counts to (created with 2 days of retention); ' +
      '`sluice quality`, the feed and alerts read the scores from it',
    default: 'sluice.quality',
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name'),
  },
  qualityPublishIntervalMs: {
    env: 'SLUICE_QUALITY_PUBLISH_INTERVAL_MS',
    description:
      "How often `sluice run` publishes the current minute's quality counts and updates its quality metrics " +
      '(a divisor of 60000; 0: never)',
    default: '10000',
    emptyIsUnset: true,
    schema: z.coerce
      .number()
      .int()
      .min(0)
      .refine((n) => n === 0 || (n <= MINUTE_MS && MINUTE_MS % n === 0), 'a divisor of 60000, or 0'),
  },
  qualityThresholds: {
    env: 'SLUICE_QUALITY_THRESHOLDS',
    description:
      'Quality score thresholds in percent, over the defaults 98/95 (see Quality scores): comma-separated ' +
      'EXPECTATION=OK/ALERT, EXPECTATION * or a rule or TOPIC:RULE, e.g. order_status_known=99/97',
    default: '',
    schema: thresholdListSchema,
  },
} as const satisfies Record<string, Setting>;
