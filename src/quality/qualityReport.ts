import { textTable } from '../core/textTable.ts';
import { dlqTopicOf } from '../topology/defineTopology.ts';
import type { QualityExample } from './qualityExamples.ts';
import type { QualityScore } from './qualityScores.ts';
import { DECIDING_WINDOW, QUALITY_WINDOW_NAMES, type QualityState } from './qualityThresholds.ts';

/**
 * `sluice quality` as data docs: one suite per topology and source topic, each expectation with
 * its threshold, pass rate and counts per window, its state, and a few example failures.
 */

export interface ReportExpectation extends QualityScore {
  examples: QualityExample[];
}

export interface QualitySuiteReport {
  topology: string;
  topic: string;
  dlq: string;
  /** The worst state of its expectations (alert > warn > ok > no_data). */
  state: QualityState;
  expectations: ReportExpectation[];
}

export interface QualityReport {
  /** No expectation under its alert threshold. */
  ok: boolean;
  generatedAt: string;
  windows: string[];
  decidingWindow: string;
  counts: Record<QualityState, number>;
  suites: QualitySuiteReport[];
}

const SEVERITY: Record<QualityState, number> = { no_data: 0, ok: 1, warn: 2, alert: 3 };

/**
 * Groups scores into suites (in the order the scores come: declared suites first) and attaches
 * each expectation's examples (by `<topology>|<topic>|<rule>`).
 */
export function buildQualityReport(
  scores: readonly QualityScore[],
  examples: ReadonlyMap<string, QualityExample[]>,
  now: number,
): QualityReport {
  const suites = new Map<string, QualitySuiteReport>();
  const counts: Record<QualityState, number> = { ok: 0, warn: 0, alert: 0, no_data: 0 };
  for (const s of scores) {
    const id = `${s.topology}|${s.topic}`;
    let suite = suites.get(id);
    if (!suite) {
      suite = { topology: s.topology, topic: s.topic, dlq: dlqTopicOf(s), state: 'no_data', expectations: [] };
      suites.set(id, suite);
    }
    suite.expectations.push({ ...s, examples: examples.get(`${id}|${s.rule}`) ?? [] });
    if (SEVERITY[s.state] > SEVERITY[suite.state]) suite.state = s.state;
    counts[s.state]++;
  }
  return {
    ok: counts.alert === 0,
    generatedAt: new Date(now).toISOString(),
    windows: QUALITY_WINDOW_NAMES,
    decidingWindow: DECIDING_WINDOW,
    counts,
    suites: [...suites.values()],
  };
}

const pct = (r: number) => `${(Math.floor(r * 1000) / 10).toFixed(1)} %`;
const int = (n: number) => n.toLocaleString('en-US');

/** A window cell: `90.0 % of 1,000` (passed share of checked), or `-` when nothing was checked. */
export function windowCell(c: { checked: number; ratio: number | null }): string {
  return c.ratio === null ? '-' : `${pct(c.ratio)} of ${int(c.checked)}`;
}

/** The readable report: per suite a heading, a table of expectations, then example failures. */
export function formatQualityReport(report: QualityReport): string {
  const lines = [
    `Quality scores at ${report.generatedAt} — share of checked records that passed, over the last ` +
      `5 min, 1 h and 1 day; state by the last ${report.decidingWindow === '1h' ? 'hour' : report.decidingWindow}`,
  ];
  const quiet: string[] = [];
  for (const suite of report.suites) {
    if (suite.state === 'no_data') {
      quiet.push(`${suite.topology}/${suite.topic}`);
      continue;
    }
    lines.push(
      '',
      `suite ${suite.topology} / ${suite.topic} — ${suite.state.toUpperCase()} (failures in ${suite.dlq})`,
    );
    const header = ['EXPECTATION', 'OK ≥ / ALERT <', 'LAST 5 MIN', 'LAST HOUR', 'LAST DAY', 'STATE', 'CHECK'];
    const rows = suite.expectations.map((e) => [
      e.rule,
      `${pct(e.threshold.okAtOrAbove)} / ${pct(e.threshold.alertBelow)}`,
      windowCell(e.windows['5m']),
      windowCell(e.windows['1h']),
      windowCell(e.windows['1d']),
      e.state,
      e.check,
    ]);
    lines.push(...textTable(header, rows).map((l) => `  ${l}`));
    for (const e of suite.expectations) {
      const failed = e.windows['1d'].failed;
      if (!failed) continue;
      lines.push(`  ${e.rule}: ${int(failed)} failed in the last day${e.examples.length ? ', e.g.' : ''}`);
      for (const x of e.examples)
        lines.push(
          `    key ${x.key ?? '(none)'} · partition ${x.partition} · offset ${x.offset} · ${x.reason}: ${x.message}`,
        );
    }
  }
  if (quiet.length) lines.push('', `no data in the last day: ${quiet.join(', ')}`);
  const c = report.counts;
  lines.push('', `${c.ok} ok, ${c.warn} warn, ${c.alert} under the alert threshold, ${c.no_data} without data`);
  return lines.join('\n');
}
