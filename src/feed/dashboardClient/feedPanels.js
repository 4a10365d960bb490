/* The panels fed by the live feed: header counters, revenue, orders, sessions and dead letters.
 * Rendering runs on a timer and only when an update arrived since the last one. */

import { fillTable, setText } from './dom.js';
import { fmtInt, fmtMoney, fmtTime, fmtWindow } from './format.js';
import { renderFunnel } from './funnelPanel.js';
import { renderQuality } from './qualityPanel.js';
import { lineChart, PALETTE } from './lineChart.js';
import { METRICS } from './pageSettings.js';
import { activeSessions } from './sessionWindows.js';
import {
  ALL,
  columns,
  feedState,
  latest,
  sessions,
  sortedWindows,
  stateOf,
  store,
  topGroups,
  totalOf,
} from './windowStore.js';

function renderHeader() {
  setText('updates-count', fmtInt(feedState.updates));
  setText('last-update', feedState.lastUpdateAt ? fmtTime(feedState.lastUpdateAt) : '—');
}

function renderRevenue() {
  const l = latest(store.revenue);
  if (l) {
    const total = totalOf(l.w);
    setText('revenue-current', fmtMoney(total));
    setText(
      'revenue-text',
      'revenue this minute: ' + total.toFixed(2) + ' · ' + fmtWindow(l.start, l.w.end) + ' · ' + stateOf(l.w),
    );
  }
  const cats = topGroups(store.revenue, 6, ALL);
  const totals = sortedWindows(store.revenue).map((x) => totalOf(store.revenue.get(x)));
  const data = columns(store.revenue, cats);
  data.splice(1, 0, totals);
  lineChart('chart-revenue', ['total'].concat(cats), data, {
    emphasizeFirst: true,
    format: fmtMoney,
    axisFormat: (v) => (v >= 1000 ? (v / 1000).toFixed(1) + 'k' : fmtInt(v)),
    colors: ['#e6edf3'].concat(PALETTE),
    waitingFor: 'metrics.' + METRICS.revenue,
  });
}

function renderOrders() {
  const l = latest(store.orders);
  if (l) {
    setText('orders-current', fmtInt(totalOf(l.w)));
    const parts = [];
    for (const [k, v] of l.w.groups) if (k !== ALL) parts.push(k + ' ' + fmtInt(v));
    setText('orders-note', parts.sort().join(' · ') || fmtWindow(l.start, l.w.end));
  }
  const statuses = topGroups(store.orders, 8, ALL);
  lineChart('chart-orders', statuses, columns(store.orders, statuses), { waitingFor: 'metrics.' + METRICS.orders });
}

/** Active sessions: sessions active in the latest minute, and per minute of the last hour (event time). */
function renderSessions() {
  const a = activeSessions(sessions);
  if (a) {
    const last = a.minutes[a.minutes.length - 1];
    setText('sessions-current', fmtInt(a.active[a.active.length - 1]));
    setText('sessions-note', fmtWindow(last, last + 60000) + ' · ' + fmtInt(a.open) + ' still open');
  }
  const data = a ? [a.minutes.map((x) => x / 1000), a.active] : [[]];
  lineChart('chart-sessions', ['active sessions'], data, {
    waitingFor: 'metrics.' + METRICS.sessions,
    colors: ['#3fb950'],
  });
}

/** Per "source|reason": dead letters in the windows of the last hour. */
function lastHourByGroup() {
  const hourAgo = Date.now() - 3600e3;
  const hour = new Map();
  for (const [start, w] of store.dlq) {
    if (start >= hourAgo) for (const [k, v] of w.groups) hour.set(k, (hour.get(k) || 0) + v);
  }
  return hour;
}

function renderDlq() {
  const l = latest(store.dlq);
  const hour = lastHourByGroup();
  if (l) {
    const hourTotal = Array.from(hour.values()).reduce((a, b) => a + b, 0);
    setText('dlq-current', fmtInt(totalOf(l.w)));
    setText('dlq-note', fmtWindow(l.start, l.w.end) + ' · ' + fmtInt(hourTotal) + ' in the last hour');
  }
  const rows = Array.from(hour.keys())
    .sort()
    .map((k) => {
      const [source, reason] = k.split('|');
      const r = [source, reason, fmtInt(l?.w.groups.get(k) ?? 0), fmtInt(hour.get(k))];
      r.numeric = 2;
      return r;
    });
  fillTable('dlq-table', rows, 'no dead-letter records', 4);
  const sources = topGroups(store.dlq, 6);
  const names = sources.map((k) => k.replace('|', ' · '));
  lineChart('chart-dlq', names, columns(store.dlq, sources), { waitingFor: 'metrics.' + METRICS.dlq });
}

/** Redraws every feed panel if an update arrived since the last call. */
export function renderFeedPanels() {
  if (!feedState.dirty) return;
  feedState.dirty = false;
  renderHeader();
  renderRevenue();
  renderOrders();
  renderSessions();
  renderFunnel();
  renderDlq();
  renderQuality();
}
