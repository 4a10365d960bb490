/* The panels fed by this process's /metrics, polled: late records and consumer lag. */

import { $, fillTable, setText } from './dom.js';
import { fmtInt, fmtTime } from './format.js';
import { lineChart } from './lineChart.js';
import { settings } from './pageSettings.js';
import { parseProm } from './promText.js';

/** [tSeconds, total] per poll, the last half hour at the default poll interval. */
const lateHistory = [];
const LATE_HISTORY_POINTS = 360;

function sum(samples) {
  return samples.reduce((a, s) => a + s.value, 0);
}

function renderLate(late) {
  const lateTotal = sum(late);
  setText('late-total', late.length ? fmtInt(lateTotal) : '0');
  setText('late-note', late.length ? 'in ' + late.length + ' window store(s)' : 'none reported by this process');
  const rows = late.map((s) => [s.labels.topology || '—', s.labels.store || s.labels.topic || '—', fmtInt(s.value)]);
  fillTable('late-table', rows, 'no late records', 3);
  lateHistory.push([Date.now() / 1000, lateTotal]);
  if (lateHistory.length > LATE_HISTORY_POINTS) lateHistory.shift();
  const data = [lateHistory.map((p) => p[0]), lateHistory.map((p) => p[1])];
  lineChart('chart-late', ['late records (total)'], data, {
    colors: ['#d29922'],
    waitingFor: '/metrics',
    minXSpan: 300,
  });
}

/** Partitions and total lag per (topology, topic). */
function lagByTopic(lag) {
  const groups = new Map();
  for (const s of lag) {
    const k = (s.labels.topology || '—') + '\u0000' + (s.labels.topic || '—');
    const g = groups.get(k) || { n: 0, lag: 0 };
    g.n++;
    g.lag += s.value;
    groups.set(k, g);
  }
  return groups;
}

function renderLag(lag) {
  const groups = lagByTopic(lag);
  setText('lag-total', lag.length ? fmtInt(sum(lag)) : '—');
  setText(
    'lag-note',
    lag.length ? groups.size + ' topic(s), ' + lag.length + ' partition(s)' : 'no consumers in this process',
  );
  const rows = Array.from(groups.keys())
    .sort()
    .map((k) => {
      const [topology, topic] = k.split('\u0000');
      const r = [topology, topic, String(groups.get(k).n), fmtInt(groups.get(k).lag)];
      r.numeric = 2;
      return r;
    });
  fillTable('lag-table', rows, 'no consumers in this process', 4);
}

function renderProcessMetrics(samples) {
  renderLate(samples.filter((s) => s.name === 'sluice_records_late_total'));
  renderLag(samples.filter((s) => s.name === 'sluice_consumer_lag_records'));
}

/** Reads /metrics now and then every `metricsPollMs`, whether or not a read fails. */
export function pollProcessMetrics() {
  fetch(settings.metricsPath || '/metrics', { cache: 'no-store' })
    .then((res) => {
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.text();
    })
    .then((text) => {
      renderProcessMetrics(parseProm(text));
      $('metrics-status').textContent = '/metrics read at ' + fmtTime(Date.now());
    })
    .catch((err) => {
      $('metrics-status').textContent = '/metrics unavailable: ' + err.message;
    })
    .then(() => {
      setTimeout(pollProcessMetrics, settings.metricsPollMs || 5000);
    });
}
