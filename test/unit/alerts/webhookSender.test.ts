import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Incident } from '../../../src/alerts/incident.ts';
import type { IncidentChange } from '../../../src/alerts/incidentTracker.ts';
import { createWebhookSender, type SenderLog } from '../../../src/alerts/webhookSender.ts';

interface Received {
  path: string;
  body: unknown;
  at: number;
}

/** A real HTTP receiver: `answer` decides each request's fate (a status, or 'hang' to never answer). */
async function receiver(answer: (n: number) => number | 'hang') {
  const received: Received[] = [];
  const hung: http.ServerResponse[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString()), at: Date.now() });
      const a = answer(n++);
      if (a === 'hang') hung.push(res);
      else res.writeHead(a).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    async close() {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

function recorder(): SenderLog & { lines: { level: string; obj: Record<string, unknown>; msg: string }[] } {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  return {
    lines,
    warn: (obj, msg) => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
    debug: (obj, msg) => lines.push({ level: 'debug', obj: obj as Record<string, unknown>, msg }),
  };
}

function change(subject: string, kind: IncidentChange['kind'] = 'opened'): IncidentChange {
  const incident: Incident = {
    key: `freshness_breach|${subject}`,
    id: 'id1',
    rule: 'freshness_breach',
    subject,
    status: kind === 'resolved' ? 'resolved' : 'open',
    severity: 'critical',
    summary: 'newest data 2000 s old; breach after 1800 s',
    startedAt: '2026-12-03T10:00:00.000Z',
    updatedAt: '2026-12-03T10:00:00.000Z',
    resolvedAt: kind === 'resolved' ? '2026-12-03T10:05:00.000Z' : null,
    evidence: { ageSeconds: 2000 },
    dashboardUrl: 'http://127.0.0.1:8080/?incident=x#incidents',
    revision: 1,
  };
  return { kind, incident };
}

async function until(check: () => boolean, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('POSTs the incident as JSON to generic webhooks and as {"text"} to Slack ones, in order', async () => {
  const r = await receiver(() => 200);
  const sender = createWebhookSender([
    { url: `${r.url}/generic`, format: 'json' },
    { url: `${r.url}/slack`, format: 'slack' },
  ]);
  try {
    sender.send(change('oltp.orders'));
    sender.send(change('oltp.orders', 'resolved'));
    assert.ok(await sender.idle(5_000));
    const generic = r.received.filter((x) => x.path === '/generic').map((x) => x.body as Record<string, unknown>);
    assert.deepEqual(
      generic.map((b) => b.event),
      ['incident.opened', 'incident.resolved'],
    );
    assert.equal((generic[0].incident as Incident).key, 'freshness_breach|oltp.orders');
    const slack = r.received.filter((x) => x.path === '/slack').map((x) => x.body as { text: string });
    assert.equal(slack.length, 2);
    assert.deepEqual(Object.keys(slack[0]), ['text']);
    assert.match(slack[0].text, /OPENED \[critical\] freshness_breach on oltp\.orders: newest data 2000 s old/);
    assert.match(slack[0].text, /<http:\/\/127\.0\.0\.1:8080\/\?incident=x#incidents\|dashboard>/);
    assert.match(slack[1].text, /RESOLVED .* \(after 5 min\)/);
    assert.deepEqual(sender.stats(), [
      { delivered: 2, failed: 0, dropped: 0 },
      { delivered: 2, failed: 0, dropped: 0 },
    ]);
  } finally {
    await sender.close();
    await r.close();
  }
});

test('retries a failing receiver with backoff until it takes the incident', async () => {
  const r = await receiver((n) => (n < 3 ? 503 : 200));
  const log = recorder();
  const sender = createWebhookSender([{ url: `${r.url}/hook`, format: 'json' }], {
    attempts: 5,
    initialBackoffMs: 40,
    maxBackoffMs: 200,
    log,
  });
  try {
    const sentAt = Date.now();
    sender.send(change('a'));
    assert.ok(await sender.idle(5_000));
    assert.equal(r.received.length, 4, 'three 503s, then taken');
    assert.deepEqual(sender.stats(), [{ delivered: 1, failed: 0, dropped: 0 }]);
    const retries = log.lines.filter((l) => l.msg === 'webhook POST failed; retrying');
    assert.deepEqual(
      retries.map((l) => l.obj.attempt),
      [1, 2, 3],
    );
    // Full jitter: each wait is uniform in [0, min(max, initial·2^n)] — 40, 80, 160 ms caps.
    retries.forEach((l, i) => assert.ok((l.obj.delayMs as number) <= 40 * 2 ** i, `delay ${l.obj.delayMs}`));
    assert.ok(r.received[3].at - sentAt >= retries.reduce((n, l) => n + (l.obj.delayMs as number), 0) - 5);
  } finally {
    await sender.close();
    await r.close();
  }
});

test('gives up after the attempts with a coded log line that never shows the URL; a 4xx is not retried', async () => {
  const r = await receiver((n) => (n < 100 ? 500 : 200));
  const bad = await receiver(() => 404);
  const log = recorder();
  const secretPath = '/services/T000/B000/s3cr3t-t0ken';
  const sender = createWebhookSender(
    [
      { url: `${r.url}${secretPath}?token=s3cr3t`, format: 'slack' },
      { url: `${bad.url}${secretPath}`, format: 'json' },
    ],
    { attempts: 3, initialBackoffMs: 10, maxBackoffMs: 20, log },
  );
  try {
    sender.send(change('a'));
    assert.ok(await sender.idle(5_000));
    assert.equal(r.received.length, 3);
    assert.equal(bad.received.length, 1, '404: the request is wrong, retrying does not help');
    const gaveUp = log.lines
      .filter((l) => l.obj.code === 'SLUICE_ERR_ALERT_WEBHOOK_FAILED')
      .sort((a, b) => String(a.obj.webhook).localeCompare(String(b.obj.webhook)));
    assert.deepEqual(
      gaveUp.map((l) => [l.obj.webhook, l.obj.attempts, l.obj.err]),
      [
        [`#1 ${r.url}`, 3, 'POST answered HTTP 500'],
        [`#2 ${bad.url}`, 1, 'POST answered HTTP 404'],
      ],
    );
    assert.equal(gaveUp[0].obj.incident, 'freshness_breach|a');
    const text = JSON.stringify(log.lines);
    assert.ok(!text.includes('s3cr3t') && !text.includes('/services/'), text);
    assert.deepEqual(
      sender.stats().map((s) => s.failed),
      [1, 1],
    );
  } finally {
    await sender.close();
    await r.close();
    await bad.close();
  }
});

test('a hanging receiver blocks nothing: send returns at once, other webhooks deliver, it times out and its queue is bounded', async () => {
  const hang = await receiver(() => 'hang');
  const ok = await receiver(() => 200);
  const log = recorder();
  const sender = createWebhookSender(
    [
      { url: `${hang.url}/slow`, format: 'json' },
      { url: `${ok.url}/fast`, format: 'json' },
    ],
    { attempts: 1, timeoutMs: 300, queueSize: 2, log },
  );
  try {
    const started = performance.now();
    for (const s of ['a', 'b', 'c']) sender.send(change(s));
    assert.ok(performance.now() - started < 50, 'send does not wait on any receiver');
    await until(() => ok.received.length === 3, 'the healthy webhook to get all three');
    assert.equal(hang.received.length, 1, 'the hanging one is still on its first');
    // The hanging lane: a in flight, b and c queued (full at 2): d drops b there, not on the healthy lane.
    sender.send(change('d'));
    await until(() => ok.received.length === 4, 'the healthy webhook to get the fourth');
    assert.equal(hang.received.length, 1, 'the hanging one is still on its first');
    const dropped = log.lines.filter((l) => l.obj.code === 'SLUICE_ERR_ALERT_WEBHOOK_DROPPED');
    assert.deepEqual(
      dropped.map((l) => l.obj.incident),
      ['freshness_breach|b'],
    );
    assert.ok(await sender.idle(5_000));
    const timedOut = log.lines.filter((l) => l.obj.code === 'SLUICE_ERR_ALERT_WEBHOOK_FAILED');
    assert.deepEqual(
      timedOut.map((l) => [l.obj.incident, l.obj.err]),
      [
        ['freshness_breach|a', 'POST failed: no answer within 300 ms'],
        ['freshness_breach|c', 'POST failed: no answer within 300 ms'],
        ['freshness_breach|d', 'POST failed: no answer within 300 ms'],
      ],
    );
    assert.deepEqual(sender.stats(), [
      { delivered: 0, failed: 3, dropped: 1 },
      { delivered: 4, failed: 0, dropped: 0 },
    ]);
  } finally {
    await sender.close();
    await hang.close();
    await ok.close();
  }
});

test('close aborts a POST in flight and drops what is queued', async () => {
  const hang = await receiver(() => 'hang');
  const sender = createWebhookSender([{ url: `${hang.url}/slow`, format: 'json' }], { timeoutMs: 60_000 });
  try {
    sender.send(change('a'));
    sender.send(change('b'));
    await until(() => hang.received.length === 1, 'the first POST');
    const started = performance.now();
    await sender.close();
    assert.ok(await sender.idle(1_000), 'idle soon after close');
    assert.ok(performance.now() - started < 1_000);
    assert.equal(hang.received.length, 1);
  } finally {
    await hang.close();
  }
});
