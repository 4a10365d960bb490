import { test } from 'node:test';
import assert from 'node:assert/strict';

/**
 * The dashboard's active sessions (src/feed/dashboardClient/sessionWindows.js, a browser module
 * without DOM): session windows per session id summed over ids, merged-away sessions' stale
 * results left out, and a time axis of event-time minutes.
 */

interface Update {
  key: string;
  window: { start: number; end: number };
  final: boolean;
  value: { count: number };
}
interface Active {
  minutes: number[];
  active: number[];
  open: number;
  latestClick: number;
}
interface SessionWindows {
  createSessions(): { byId: Map<string, unknown[]> };
  applySessionUpdate(s: unknown, u: Update): void;
  activeSessions(s: unknown): Active | null;
}

const mod: SessionWindows = await import(
  new URL('../../../src/feed/dashboardClient/sessionWindows.js', import.meta.url).href
);

const MINUTE = 60_000;
const GAP = 5 * MINUTE;
const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);

/** A session result as the metrics topology keys it: `<window_start>|<session_id>`. */
function result(session: string, firstClick: number, lastClick: number, count: number, final = false): Update {
  return {
    key: `${firstClick}|${session}`,
    window: { start: firstClick, end: lastClick + GAP },
    final,
    value: { count },
  };
}

function run(updates: Update[]): Active | null {
  const s = mod.createSessions();
  for (const u of updates) mod.applySessionUpdate(s, u);
  return mod.activeSessions(s);
}

test('active sessions count session windows over every session id, not the clicks of one', () => {
  const a = run([
    result('s1', T0 + 1_000, T0 + 1_000, 1),
    result('s2', T0 + 2_000, T0 + 50_000, 7),
    result('s3', T0 + 3_000, T0 + 3_000, 1),
  ])!;
  assert.deepEqual(a.minutes, [T0]);
  assert.deepEqual(a.active, [3]);
  assert.equal(a.open, 3);
  assert.equal(a.latestClick, T0 + 50_000);
});

test('the time axis is the minutes of the session windows, up to the latest click', () => {
  const a = run([
    result('s1', T0, T0 + 2 * MINUTE, 3, true),
    result('s2', T0 + 10 * MINUTE, T0 + 10 * MINUTE, 1),
    result('s3', T0 + 20 * MINUTE + 5_000, T0 + 24 * MINUTE + 30_000, 4),
  ])!;
  assert.equal(a.minutes[0], T0);
  assert.equal(a.minutes.at(-1), T0 + 24 * MINUTE, 'the minute of the latest click, not its window end');
  assert.equal(a.minutes.length, 25);
  // s1 is active from 12:00 to 12:07 (its last click plus the gap), s2 12:10-12:15, s3 from 12:20.
  assert.deepEqual(a.active.slice(0, 8), [1, 1, 1, 1, 1, 1, 1, 0]);
  assert.deepEqual(a.active.slice(9, 16), [0, 1, 1, 1, 1, 1, 0]);
  assert.deepEqual(a.active.slice(20), [1, 1, 1, 1, 1]);
  assert.equal(a.open, 2);
});

test('a newer result of a session replaces the one before; a final one closes it', () => {
  const a = run([result('s1', T0, T0, 1), result('s1', T0, T0 + 30_000, 2), result('s1', T0, T0 + 30_000, 2, true)])!;
  assert.deepEqual(a.active, [1]);
  assert.equal(a.open, 0);
});

test('a session id back after a pause longer than the gap is a second session', () => {
  const a = run([result('s1', T0, T0, 1, true), result('s1', T0 + GAP + MINUTE, T0 + GAP + MINUTE, 1)])!;
  assert.equal(a.open, 1);
  assert.deepEqual(a.active, [1, 1, 1, 1, 1, 0, 1]);
});

test('the stale result of a session merged into an earlier one is left out, whichever arrives first', () => {
  const earlier = result('s1', T0, T0, 1);
  const later = result('s1', T0 + GAP + 1_000, T0 + GAP + 1_000, 1);
  const merged = result('s1', T0, T0 + GAP + 1_000, 3);
  for (const order of [
    [earlier, later, merged],
    [later, merged],
    [merged, later],
    [later, earlier, merged],
  ]) {
    const a = run(order)!;
    assert.equal(a.open, 1, 'one session');
    assert.ok(
      a.active.every((n) => n === 1),
      'one session in every minute',
    );
  }
});

test('sessions older than the hour before the latest click are dropped', () => {
  const s = mod.createSessions();
  mod.applySessionUpdate(s, result('old', T0, T0, 1, true));
  mod.applySessionUpdate(s, result('new', T0 + 90 * MINUTE, T0 + 90 * MINUTE, 1));
  const a = mod.activeSessions(s)!;
  assert.equal(a.minutes.length, 1);
  assert.equal(a.minutes[0], T0 + 90 * MINUTE);
  assert.deepEqual([...s.byId.keys()], ['new']);
});

test('no sessions: nothing to show', () => {
  assert.equal(run([]), null);
});
