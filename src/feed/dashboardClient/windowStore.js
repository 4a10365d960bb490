/* What the page knows of each metric: per window start, the latest result per group. */

import { KIND_OF } from './pageSettings.js';
import { applySessionUpdate, createSessions } from './sessionWindows.js';
import { applyQualityUpdate } from './qualityPanel.js';

/** The group key of a metric's total over all groups. */
export const ALL = '__all__';
/** Windows kept per metric (two hours of minutes). */
const KEEP_WINDOWS = 120;

/** Per metric kind of fixed windows: windowStart -> { end, final, groups: Map(group -> number), value }. */
export const store = {
  revenue: new Map(), // groups: category -> revenue
  orders: new Map(), // groups: status -> count
  funnel: new Map(), // value: the funnel record
  dlq: new Map(), // groups: "source|reason" -> count
};

/** Active sessions: session windows per session id, not one value per window (see sessionWindows.js). */
export const sessions = createSessions();

/** Counters for the header, and whether anything changed since the last render. */
export const feedState = { updates: 0, lastUpdateAt: 0, dirty: true };

function windowOf(map, u) {
  let w = map.get(u.window.start);
  if (!w) {
    w = { end: u.window.end, final: false, groups: new Map(), value: null };
    map.set(u.window.start, w);
    if (map.size > KEEP_WINDOWS) {
      const keys = sortedWindows(map);
      for (let i = 0; i < keys.length - KEEP_WINDOWS; i++) map.delete(keys[i]);
    }
  }
  return w;
}

/** Records one update of the feed (a metric the page does not show is ignored). */
export function applyUpdate(u) {
  const kind = KIND_OF[u.metric];
  if (!kind) return;
  feedState.dirty = true;
  if (kind === 'sessions') {
    applySessionUpdate(sessions, u);
    return;
  }
  if (kind === 'quality') {
    applyQualityUpdate(u);
    return;
  }
  const w = windowOf(store[kind], u);
  const v = u.value || {};
  w.final = u.final;
  if (kind === 'revenue') w.groups.set(String(v.category), Number(v.revenue) || 0);
  else if (kind === 'orders') w.groups.set(String(v.status), Number(v.count) || 0);
  else if (kind === 'dlq') w.groups.set(String(v.source) + '|' + String(v.reason), Number(v.count) || 0);
  else if (kind === 'funnel') w.value = v;
}

/** Window starts, oldest first. */
export function sortedWindows(map) {
  return Array.from(map.keys()).sort((a, b) => a - b);
}

/** The newest window as `{ start, w }`, or null. */
export function latest(map) {
  const ks = sortedWindows(map);
  return ks.length ? { start: ks[ks.length - 1], w: map.get(ks[ks.length - 1]) } : null;
}

/** A window's total: its `__all__` group when the metric has one, else the sum of its groups. */
export function totalOf(w) {
  if (w.groups.has(ALL)) return w.groups.get(ALL);
  let s = 0;
  for (const v of w.groups.values()) s += v;
  return s;
}

export function stateOf(w) {
  return w.final ? 'final' : 'provisional';
}

/** Chart data: x (seconds) and one column per group name. */
export function columns(map, names) {
  const xs = sortedWindows(map);
  const data = [xs.map((x) => x / 1000)];
  for (const n of names) {
    data.push(
      xs.map((x) => {
        const g = map.get(x).groups;
        return g.has(n) ? g.get(n) : null;
      }),
    );
  }
  return data;
}

/** The `limit` groups with the largest sums over all windows, by name. */
export function topGroups(map, limit, exclude) {
  const sums = new Map();
  for (const w of map.values()) {
    for (const [k, v] of w.groups) if (k !== exclude) sums.set(k, (sums.get(k) || 0) + v);
  }
  return Array.from(sums.entries())
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map((e) => e[0])
    .sort();
}
