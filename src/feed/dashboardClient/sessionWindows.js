/* Active sessions from `metrics.active_sessions`. That metric is not one value per time window: it is
 * one session window per session id (topology `metrics`, `session(gap)` keyed by session_id), its
 * record key `<window_start>|<session_id>`, its window [first click, last click + gap), its `count`
 * the session's clicks. So one result is one session, and the number of active sessions is the
 * number of session windows, over all keys, that are active at a time. Its time axis comes from
 * those windows (event time), never from when results arrived.
 *
 * A session merged into an earlier one of the same id (a late click bridging two) gets no final
 * result and no tombstone on the metric topic: its last provisional result stays behind. Per
 * session id, overlapping windows are therefore one session, the one with the earliest start
 * (a merge keeps the earliest start and covers the windows it absorbed). Pure functions, no DOM:
 * unit-tested in node. */

const MINUTE = 60000;
/** Minutes the chart shows, up to the minute of the latest click; older sessions are dropped. */
export const SESSION_CHART_MINUTES = 60;

/** The sessions the page knows: per session id, its windows `{ start, end, final }`. */
export function createSessions() {
  // minLength: the shortest window seen, the session gap once a one-click session was seen (never less).
  return { byId: new Map(), minLength: Number.POSITIVE_INFINITY, maxEnd: Number.NEGATIVE_INFINITY };
}

function sessionIdOf(key) {
  const i = key.indexOf('|');
  return i < 0 ? key : key.slice(i + 1);
}

function overlap(a, b) {
  return a.start < b.end && b.start < a.end;
}

/** Records one feed update of the active-sessions metric. */
export function applySessionUpdate(sessions, u) {
  const w = { start: Number(u.window.start), end: Number(u.window.end), final: u.final === true };
  if (!(w.end > w.start)) return;
  sessions.minLength = Math.min(sessions.minLength, w.end - w.start);
  sessions.maxEnd = Math.max(sessions.maxEnd, w.end);
  const id = sessionIdOf(String(u.key));
  // The same key (same start) is the same session: its latest result replaces the one before.
  const others = (sessions.byId.get(id) || []).filter((x) => x.start !== w.start);
  if (others.some((x) => x.start < w.start && overlap(x, w))) {
    // Merged into an earlier session: a stale result.
    if (others.length) sessions.byId.set(id, others);
    else sessions.byId.delete(id);
    return;
  }
  const kept = others.filter((x) => !overlap(x, w));
  kept.push(w);
  sessions.byId.set(id, kept);
}

/**
 * The latest click's event time: the largest window end minus the session gap. The gap is
 * estimated as the shortest window seen (every window is at least one gap long), so this is never
 * later than the real latest click.
 */
export function latestClickTime(sessions) {
  return sessions.maxEnd - sessions.minLength;
}

/** Drops sessions that ended before `horizon`; returns the earliest start of those left. */
function pruneBefore(sessions, horizon) {
  let earliest = Number.POSITIVE_INFINITY;
  for (const [id, list] of sessions.byId) {
    let old = false;
    for (const w of list) {
      if (w.end > horizon) earliest = Math.min(earliest, w.start);
      else old = true;
    }
    if (!old) continue;
    const kept = list.filter((w) => w.end > horizon);
    if (kept.length) sessions.byId.set(id, kept);
    else sessions.byId.delete(id);
  }
  return earliest;
}

/**
 * Active sessions per minute of the last hour up to the minute of the latest click (sessions whose
 * window overlaps the minute, summed over session ids), and the sessions still open (latest result
 * provisional). Sessions older than the hour are dropped here. Null while there are none.
 *
 * @returns {{ minutes: number[], active: number[], open: number, latestClick: number } | null}
 */
export function activeSessions(sessions) {
  if (!sessions.byId.size) return null;
  const latestClick = latestClickTime(sessions);
  const last = Math.floor(latestClick / MINUTE) * MINUTE;
  const horizon = last - (SESSION_CHART_MINUTES - 1) * MINUTE;
  const earliest = pruneBefore(sessions, horizon);
  if (!sessions.byId.size) return null;
  const first = Math.max(horizon, Math.floor(earliest / MINUTE) * MINUTE);
  const n = (last - first) / MINUTE + 1;
  // +1 from the minute a session starts in, -1 after the last minute its window reaches into.
  const delta = new Array(n + 1).fill(0);
  let open = 0;
  for (const list of sessions.byId.values()) {
    for (const w of list) {
      if (!w.final) open++;
      const from = Math.max(0, Math.floor((w.start - first) / MINUTE));
      const to = Math.min(n - 1, Math.ceil((w.end - first) / MINUTE) - 1);
      if (from <= to) {
        delta[from]++;
        delta[to + 1]--;
      }
    }
  }
  const minutes = [];
  const active = [];
  let running = 0;
  for (let i = 0; i < n; i++) {
    running += delta[i];
    minutes.push(first + i * MINUTE);
    active.push(running);
  }
  return { minutes, active, open, latestClick };
}
