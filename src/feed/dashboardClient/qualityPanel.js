/* Quality scores: the runners' per-minute counts per expectation (metric `quality`, one update per
 * runner, minute and expectation; a later update of the same key replaces it), summed over the last
 * 5 minutes and the last hour of whole minutes, as `sluice quality` does. */

import { fillTable } from './dom.js';
import { fmtInt } from './format.js';

const MIN = 60000;
/** Below this pass rate a row is marked as under the default alert threshold (95 %). */
const ALERT_BELOW = 0.95;

/** By update key (`<minute>|<topology>|<topic>|<rule>|<runner>`): the latest counts of that minute. */
const minutes = new Map();

/** Records one update of the metric `quality`. */
export function applyQualityUpdate(u) {
  const v = u.value || {};
  minutes.set(u.key, {
    start: u.window.start,
    id: v.topology + '|' + v.topic + '|' + v.rule,
    checked: Number(v.checked) || 0,
    failed: Number(v.failed) || 0,
  });
}

/** Per expectation: [checked, failed] over the minutes starting at or after each window's first minute. */
export function qualityWindows(now) {
  const current = Math.floor(now / MIN) * MIN;
  const from5 = current - 4 * MIN;
  const from60 = current - 59 * MIN;
  const out = new Map();
  for (const [key, m] of minutes) {
    if (m.start < from60) {
      minutes.delete(key);
      continue;
    }
    const e = out.get(m.id) || { m5: [0, 0], h1: [0, 0] };
    e.h1[0] += m.checked;
    e.h1[1] += m.failed;
    if (m.start >= from5) {
      e.m5[0] += m.checked;
      e.m5[1] += m.failed;
    }
    out.set(m.id, e);
  }
  return out;
}

function cell(counts) {
  const [checked, failed] = counts;
  if (!checked) return '—';
  const ratio = (checked - failed) / checked;
  return (Math.floor(ratio * 1000) / 10).toFixed(1) + ' % of ' + fmtInt(checked) + (ratio < ALERT_BELOW ? ' ⚠' : '');
}

/** The table: one row per expectation, lowest hourly pass rate first. */
export function renderQuality() {
  const rows = Array.from(qualityWindows(Date.now()))
    .map(([id, e]) => ({ id, e, r: e.h1[0] ? (e.h1[0] - e.h1[1]) / e.h1[0] : 1 }))
    .sort((a, b) => a.r - b.r || a.id.localeCompare(b.id))
    .map(({ id, e }) => {
      const row = id.split('|').concat([cell(e.m5), cell(e.h1)]);
      row.numeric = 2;
      return row;
    });
  fillTable('quality-table', rows, 'no quality counts yet', 5);
}
