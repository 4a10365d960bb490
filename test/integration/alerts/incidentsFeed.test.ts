import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { ensureIncidentsTopic, openIncidentWriter } from '../../../src/alerts/incidentStore.ts';
import { linkTo } from '../../../src/alerts/incidentTracker.ts';
import type { Incident } from '../../../src/alerts/incident.ts';
import { startFeedServer } from '../../../src/feed/feedServer.ts';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

/** The HTTP status an upgrade request is answered with (101 when it is accepted). */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.once('error', reject);
  });
}

test('/ws/incidents is gated like /ws (token, Origin), sends the incidents then each change; unknown paths get 404', async () => {
  const base = await realStack();
  const cfg = { ...base, incidentsTopic: uniqueName('it_incidents_feed'), feedToken: 's3cret-token' };
  const kafka = createKafkaClient(cfg, 'it-incidents-feed');
  await ensureIncidentsTopic(kafka, cfg);
  const writer = await openIncidentWriter(kafka, cfg.incidentsTopic);
  const now = new Date().toISOString();
  const open: Incident = {
    key: 'runner_not_ready|http://runner-1:8080/readyz',
    id: 'i1',
    rule: 'runner_not_ready',
    subject: 'http://runner-1:8080/readyz',
    status: 'open',
    severity: 'critical',
    summary: 'runner HTTP 503',
    startedAt: now,
    updatedAt: now,
    resolvedAt: null,
    evidence: { status: 503 },
    dashboardUrl: linkTo('http://127.0.0.1:8080/', 'runner_not_ready|http://runner-1:8080/readyz'),
    revision: 1,
  };
  await writer.write([{ key: open.key, incident: open }]);
  const srv = await startFeedServer(cfg, { host: '127.0.0.1', port: 0 });
  const ws = srv.url.replace(/^http/, 'ws');
  try {
    assert.equal(await upgradeStatus(`${ws}/ws/incidents`), 401, 'no token');
    assert.equal(await upgradeStatus(`${ws}/ws/incidents?token=wrong`), 401);
    assert.equal(await upgradeStatus(`${ws}/ws/incidents?token=s3cret-token`, { Origin: 'https://evil.example' }), 403);
    assert.equal(await upgradeStatus(`${ws}/ws/nope?token=s3cret-token`), 404);
    assert.equal(await upgradeStatus(`${ws}/ws?token=s3cret-token`), 101, 'the metrics feed is still served');

    const client = new WebSocket(`${ws}/ws/incidents`, { headers: { Authorization: 'Bearer s3cret-token' } });
    const messages: { type: string; incidents?: Incident[]; incident?: Incident; key?: string }[] = [];
    const arrived = (n: number) => eventually(async () => messages.length >= n, `${n} messages`);
    client.on('message', (data) => messages.push(JSON.parse(String(data))));
    // The view may still be reading the topic when the client connects: the incident comes in the
    // snapshot or right after it.
    await arrived(1);
    assert.equal(messages[0].type, 'incidents');
    const seenOpen = () =>
      messages.some((m) => m.incidents?.some((i) => i.key === open.key) || m.incident?.key === open.key);
    while (!seenOpen()) await arrived(messages.length + 1);
    const resolvedAt = new Date().toISOString();
    const resolved = { ...open, status: 'resolved' as const, resolvedAt, updatedAt: resolvedAt, revision: 2 };
    const before = messages.length;
    await writer.write([{ key: open.key, incident: resolved }]);
    await arrived(before + 1);
    assert.deepEqual(messages[before], { type: 'incident', incident: resolved });
    await writer.write([{ key: open.key, incident: null }]);
    await arrived(before + 2);
    assert.deepEqual(messages[before + 1], { type: 'incident_removed', key: open.key });
    client.close();
  } finally {
    await srv.close();
    await writer.close();
  }
});
