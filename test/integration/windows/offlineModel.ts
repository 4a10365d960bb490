import { funnelStep } from '../../../topologies/metrics.ts';

/**
 * The offline computation the window tests compare against: the same events, in the order the
 * topology reads them (one upstream partition), with the watermark rule written out plainly:
 * wm_i = max over j ≤ i of (t_j − outOfOrderness); a record is late for a window when the
 * window's end + grace ≤ wm_i.
 */
export interface Click { event_id: string; event_type: string; session_id: string; event_time: number }

export function offlineFunnel(events: Click[], o: { outOfOrdernessMs: number; graceMs: number; sessionGapMs: number }) {
  const size = 5 * 60_000;
  let wm = -Infinity;
  const windows = new Map<number, Record<string, Set<string>>>();
  let funnelLate = 0;
  let sessionsLate = 0;
  for (const e of events) {
    wm = Math.max(wm, e.event_time - o.outOfOrdernessMs);
    if (e.event_time + o.sessionGapMs + o.graceMs <= wm) sessionsLate++;
    const step = funnelStep(e.event_type);
    if (!step) continue;
    const start = Math.floor(e.event_time / size) * size;
    if (start + size + o.graceMs <= wm) { funnelLate++; continue; }
    const w = windows.get(start) ?? { views: new Set(), product_views: new Set(), carts: new Set(), checkouts: new Set(), purchases: new Set() };
    w[step].add(e.session_id);
    windows.set(start, w);
  }
  const finals = new Map([...windows].map(([start, w]) => [start, Object.fromEntries(Object.entries(w).map(([k, s]) => [k, s.size]))]));
  return { finals, funnelLate, sessionsLate };
}
