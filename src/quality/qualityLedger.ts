import { expectationId } from './qualityCounts.ts';
import { MINUTE_MS, QUALITY_WINDOW_NAMES, QUALITY_WINDOWS, type QualityWindow } from './qualityThresholds.ts';

/**
 * The per-minute quality counts the runners publish (one JSON record per runner, minute and
 * expectation on SLUICE_QUALITY_TOPIC) and the window arithmetic every reader shares: the runner's
 * own gauges, `sluice quality`, the alert evaluator. A record is a window result like those of
 * `metrics.*` (window_start/window_end, final), so the live feed serves it as the metric `quality`.
 */

/** One runner's counts of one expectation in one minute (the record's value). */
export interface QualityMinute {
  window_start: number;
  window_end: number;
  topology: string;
  topic: string;
  rule: string;
  checked: number;
  passed: number;
  failed: number;
  /** Which runner process counted (host, pid, random): replicas' records add up, a runner's own replace. */
  runner: string;
  /** The minute is over for this runner: no later record for this key. */
  final: boolean;
  emitted_at: number;
}

/** The record key: `<window_start>|<topology>|<topic>|<rule>|<runner>` — a later record of a key replaces it. */
export function qualityRecordKey(m: QualityMinute): string {
  return `${m.window_start}|${expectationId(m)}|${m.runner}`;
}

/** The value as published (JSON: readable in Kafka UI and `sluice inspect` without a schema). */
export function encodeQualityMinute(m: QualityMinute): Buffer {
  return Buffer.from(JSON.stringify(m));
}

/** A published value, or undefined for anything that is not one (never thrown: a bad record is skipped). */
export function decodeQualityMinute(value: Buffer | null): QualityMinute | undefined {
  if (!value) return undefined;
  try {
    const m = JSON.parse(value.toString('utf8')) as Partial<QualityMinute>;
    const numbers = [m.window_start, m.window_end, m.checked, m.failed].every((n) => Number.isFinite(n));
    const names = [m.topology, m.topic, m.rule, m.runner].every((s) => typeof s === 'string');
    return numbers && names ? (m as QualityMinute) : undefined;
  } catch {
    return undefined;
  }
}

/** The start of the minute `t` is in. */
export const minuteOf = (t: number) => Math.floor(t / MINUTE_MS) * MINUTE_MS;

/** Counts over one window. */
export interface WindowCounts {
  checked: number;
  passed: number;
  failed: number;
  /** passed / checked; null when nothing was checked. */
  ratio: number | null;
}

/** One expectation's counts over every window. */
export interface ExpectationWindows {
  topology: string;
  topic: string;
  rule: string;
  windows: Record<QualityWindow, WindowCounts>;
}

/**
 * The first minute a window counts at `now`: windows are whole minutes, the current one included
 * (5m at 12:03:20 is 11:59:00 to now).
 */
export function windowStart(window: QualityWindow, now: number): number {
  return minuteOf(now) - (QUALITY_WINDOWS[window] - 1) * MINUTE_MS;
}

interface Expectation {
  topology: string;
  topic: string;
  rule: string;
  /** By `<window_start>|<runner>`: the latest record of each runner's minute. */
  minutes: Map<string, { start: number; checked: number; failed: number }>;
}

/**
 * Per-minute records in, window counts out. Records of one runner's minute replace each other
 * (the runner republishes its open minute); records of different runners add up.
 *
 * @example
 *   const ledger = new QualityLedger();
 *   ledger.add(minute); // for every record read
 *   ledger.windows(Date.now()); // [{ topology, topic, rule, windows: { '5m': {...}, '1h': {...}, '1d': {...} } }]
 */
export class QualityLedger {
  readonly #expectations = new Map<string, Expectation>();

  add(m: QualityMinute): void {
    const id = expectationId(m);
    let e = this.#expectations.get(id);
    if (!e) {
      e = { topology: m.topology, topic: m.topic, rule: m.rule, minutes: new Map() };
      this.#expectations.set(id, e);
    }
    e.minutes.set(`${m.window_start}|${m.runner}`, { start: m.window_start, checked: m.checked, failed: m.failed });
  }

  /** Forgets minutes older than the longest window at `now` (and expectations left with none). */
  prune(now: number): void {
    const oldest = windowStart('1d', now);
    for (const [id, e] of this.#expectations) {
      for (const [k, m] of e.minutes) if (m.start < oldest) e.minutes.delete(k);
      if (!e.minutes.size) this.#expectations.delete(id);
    }
  }

  /** Every expectation seen, with its counts over each window at `now`. */
  windows(now: number): ExpectationWindows[] {
    const starts = QUALITY_WINDOW_NAMES.map((w) => [w, windowStart(w, now)] as const);
    return [...this.#expectations.values()].map((e) => {
      const sums = Object.fromEntries(QUALITY_WINDOW_NAMES.map((w) => [w, { checked: 0, failed: 0 }]));
      for (const m of e.minutes.values())
        for (const [w, start] of starts)
          if (m.start >= start) {
            sums[w].checked += m.checked;
            sums[w].failed += m.failed;
          }
      const windows = Object.fromEntries(
        QUALITY_WINDOW_NAMES.map((w) => [w, windowCounts(sums[w].checked, sums[w].failed)]),
      ) as Record<QualityWindow, WindowCounts>;
      return { topology: e.topology, topic: e.topic, rule: e.rule, windows };
    });
  }
}

/** Counts with their ratio. */
export function windowCounts(checked: number, failed: number): WindowCounts {
  return { checked, passed: checked - failed, failed, ratio: checked > 0 ? (checked - failed) / checked : null };
}
