import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AlertRuleName } from '../../../src/alerts/incident.ts';
import { createIncidentTracker, linkTo } from '../../../src/alerts/incidentTracker.ts';
import type { Observation } from '../../../src/alerts/observation.ts';

const DASHBOARD = 'http://127.0.0.1:8080/';
const FRESHNESS = new Set<AlertRuleName>(['freshness_breach']);
const at = (s: number) => new Date(Date.UTC(2026, 11, 3, 10, 0, s));
let ids = 0;
const tracker = (restored = [] as ReturnType<ReturnType<typeof createIncidentTracker>['list']>) =>
  createIncidentTracker({ dashboardUrl: DASHBOARD, restored, newId: () => `id${++ids}` });

function fresh(subject: string, state: Observation['state'], extra: Partial<Observation> = {}): Observation {
  return {
    rule: 'freshness_breach',
    subject,
    state,
    summary: `${subject} ${state}`,
    evidence: { state: state === 'firing' ? 'breach' : 'fresh', ageSeconds: 10 },
    significant: ['state'],
    ...extra,
  };
}

test('a firing observation opens an incident keyed by rule and subject, with start time, evidence and a dashboard link', () => {
  const t = tracker();
  const changes = t.apply([fresh('oltp.orders', 'firing')], FRESHNESS, at(0));
  assert.equal(changes.length, 1);
  const { kind, incident } = changes[0];
  assert.equal(kind, 'opened');
  assert.equal(incident.key, 'freshness_breach|oltp.orders');
  assert.equal(incident.status, 'open');
  assert.equal(incident.startedAt, at(0).toISOString());
  assert.equal(incident.resolvedAt, null);
  assert.deepEqual(incident.evidence, { state: 'breach', ageSeconds: 10 });
  assert.equal(incident.revision, 1);
  assert.equal(incident.dashboardUrl, linkTo(DASHBOARD, incident.key));
  assert.match(incident.dashboardUrl, /\?incident=freshness_breach%7Coltp\.orders#incidents$/);
});

test('firing again is deduplicated: no change while the significant evidence stays, an update when it changes', () => {
  const t = tracker();
  t.apply([fresh('oltp.orders', 'firing')], FRESHNESS, at(0));
  // The age moves every evaluation but is not significant: nothing to write, nothing to POST.
  const same = fresh('oltp.orders', 'firing', { evidence: { state: 'breach', ageSeconds: 40 } });
  assert.deepEqual(t.apply([same], FRESHNESS, at(30)), []);
  const worse = fresh('oltp.orders', 'firing', { evidence: { state: 'missing', ageSeconds: 70 }, summary: 'gone' });
  const [update] = t.apply([worse], FRESHNESS, at(60));
  assert.equal(update.kind, 'updated');
  assert.equal(update.incident.id, t.list()[0].id);
  assert.equal(update.incident.startedAt, at(0).toISOString(), 'the start stays');
  assert.equal(update.incident.updatedAt, at(60).toISOString());
  assert.equal(update.incident.summary, 'gone');
  assert.equal(update.incident.revision, 2);
  assert.deepEqual(t.apply([worse], FRESHNESS, at(90)), [], 'and once updated, no second update');
  assert.equal(t.list().filter((i) => i.status === 'open').length, 1);
});

test('an ok observation resolves the open incident; firing again later opens a new one under the same key', () => {
  const t = tracker();
  const [opened] = t.apply([fresh('oltp.orders', 'firing')], FRESHNESS, at(0));
  const [resolved] = t.apply([fresh('oltp.orders', 'ok')], FRESHNESS, at(30));
  assert.equal(resolved.kind, 'resolved');
  assert.equal(resolved.incident.status, 'resolved');
  assert.equal(resolved.incident.resolvedAt, at(30).toISOString());
  assert.equal(resolved.incident.id, opened.incident.id);
  assert.deepEqual(resolved.incident.evidence, { state: 'fresh', ageSeconds: 10 }, 'what cleared it');
  assert.equal(resolved.incident.summary, 'oltp.orders ok');
  assert.equal(resolved.incident.startedAt, opened.incident.startedAt);
  assert.deepEqual(t.apply([fresh('oltp.orders', 'ok')], FRESHNESS, at(60)), [], 'resolved once');
  const [again] = t.apply([fresh('oltp.orders', 'firing')], FRESHNESS, at(90));
  assert.equal(again.kind, 'opened');
  assert.notEqual(again.incident.id, opened.incident.id);
  assert.equal(again.incident.startedAt, at(90).toISOString());
});

test('unknown changes nothing; a subject its source no longer reports is resolved, but only by a source that ran', () => {
  const t = tracker();
  t.apply([fresh('a', 'firing'), fresh('b', 'firing')], FRESHNESS, at(0));
  assert.deepEqual(t.apply([fresh('a', 'unknown'), fresh('b', 'firing')], FRESHNESS, at(30)), []);
  // The freshness source failed this time: its rule is not decided, nothing is resolved.
  assert.deepEqual(t.apply([], new Set(), at(60)), []);
  const changes = t.apply([fresh('a', 'unknown')], FRESHNESS, at(90));
  assert.deepEqual(
    changes.map((c) => [c.kind, c.incident.subject]),
    [['resolved', 'b']],
  );
});

test('one observation per key per evaluation; other rules are independent', () => {
  const t = tracker();
  const dlq: Observation = {
    rule: 'dlq_rate_high',
    subject: 'oltp.orders',
    state: 'firing',
    summary: 'x',
    evidence: { perMinute: 30 },
  };
  const changes = t.apply(
    [fresh('oltp.orders', 'firing'), fresh('oltp.orders', 'ok'), dlq],
    new Set<AlertRuleName>(['freshness_breach', 'dlq_rate_high']),
    at(0),
  );
  assert.deepEqual(
    changes.map((c) => [c.kind, c.incident.key]),
    [
      ['opened', 'freshness_breach|oltp.orders'],
      ['opened', 'dlq_rate_high|oltp.orders'],
    ],
  );
});

test('restored from the topic, a restart neither reopens nor forgets: the same incident resolves later', () => {
  const first = tracker();
  const [opened] = first.apply([fresh('oltp.orders', 'firing')], FRESHNESS, at(0));
  const restarted = tracker(first.list());
  assert.deepEqual(restarted.apply([fresh('oltp.orders', 'firing')], FRESHNESS, at(30)), [], 'not reopened');
  const [resolved] = restarted.apply([fresh('oltp.orders', 'ok')], FRESHNESS, at(60));
  assert.equal(resolved.kind, 'resolved');
  assert.equal(resolved.incident.id, opened.incident.id);
  assert.equal(resolved.incident.startedAt, at(0).toISOString());
  assert.equal(resolved.incident.revision, 2);
});

test('resolved incidents are kept for listing, then forgotten after the keep time', () => {
  const t = tracker();
  t.apply([fresh('a', 'firing'), fresh('b', 'firing')], FRESHNESS, at(0));
  t.apply([fresh('a', 'ok'), fresh('b', 'firing')], FRESHNESS, at(10));
  assert.deepEqual(
    t.list().map((i) => [i.subject, i.status]),
    [
      ['b', 'open'],
      ['a', 'resolved'],
    ],
  );
  assert.deepEqual(t.forgetResolvedBefore(at(5)), []);
  assert.deepEqual(t.forgetResolvedBefore(at(11)), ['freshness_breach|a']);
  assert.deepEqual(
    t.list().map((i) => i.subject),
    ['b'],
  );
});

test('listed open first, critical before warning, then the latest change first', () => {
  const t = tracker();
  const warning = (subject: string): Observation => ({ ...fresh(subject, 'firing'), severity: 'warning' });
  t.apply([warning('w1')], FRESHNESS, at(0));
  t.apply([warning('w1'), fresh('c1', 'firing')], FRESHNESS, at(10));
  t.apply([warning('w1'), fresh('c1', 'firing'), warning('w2')], FRESHNESS, at(20));
  t.apply([warning('w1'), fresh('c1', 'firing'), warning('w2'), fresh('gone', 'firing')], FRESHNESS, at(30));
  t.apply([warning('w1'), fresh('c1', 'firing'), warning('w2'), fresh('gone', 'ok')], FRESHNESS, at(40));
  assert.deepEqual(
    t.list().map((i) => i.subject),
    ['c1', 'w2', 'w1', 'gone'],
  );
});
