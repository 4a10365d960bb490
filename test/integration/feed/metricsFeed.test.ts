import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import client from 'prom-client';
import { decodeCursor } from '../../../src/feed/feedCursor.ts';
import { attachMetricsFeed, type MetricsFeed, type MetricsFeedOptions } from '../../../src/feed/metricsFeed.ts';
import { startHttpServer } from '../../../src/http/httpServer.ts';
import { eventually, realStack } from '../../support/stack.ts';
import {
  createMetricTopic,
  feedCaughtUp,
  FeedClient,
  refusedStatus,
  result,
  type Msg,
  type RevenueResult,
} from './feedTestKit.ts';

/**
 * The live feed against the real stack: Avro window results produced to a unique metrics.* topic,
 * read by real WebSocket clients. Waits on conditions, never on sleeps.
 */

const CATEGORIES = ['books', 'garden', 'toys', 'games', 'tools', 'music'];
const MINUTE = 60_000;

async function withServer(cfg: Awaited<ReturnType<typeof realStack>>, opts: MetricsFeedOptions) {
  const http = await startHttpServer('127.0.0.1', 0, {});
  const wsUrl = `${http.url.replace(/^http/, 'ws')}/ws`;
  const feeds: MetricsFeed[] = [];
  const attach = async (more: MetricsFeedOptions = {}) => {
    const feed = attachMetricsFeed(http.server, cfg, { topicRefreshMs: 500, ...opts, ...more });
    feeds.push(feed);
    await feed.ready;
    return feed;
  };
  return {
    http,
    wsUrl,
    attach,
    async close() {
      for (const f of feeds) await f.close();
      await http.close();
    },
  };
}

/** Results for `count` updates starting at sequence `from`, spread over keys (and so partitions). */
function batch(windowStart: number, from: number, count: number): RevenueResult[] {
  return Array.from({ length: count }, (_, i) =>
    result(windowStart, CATEGORIES[(from + i) % CATEGORIES.length], from + i),
  );
}

function seqs(msgs: Msg[]): number[] {
  return msgs.map((m) => m.value!.revenue);
}

/** Per key, the order received must be the produce order (one key is one partition). */
function assertOrderPerKey(msgs: Msg[]): void {
  const last = new Map<string, number>();
  for (const m of msgs) {
    const prev = last.get(m.key!);
    if (prev !== undefined) assert.ok(m.value!.revenue > prev, `key ${m.key}: ${m.value!.revenue} after ${prev}`);
    last.set(m.key!, m.value!.revenue);
  }
}

async function counterValue(
  registry: client.Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  return (metric?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((n, v) => n + v.value, 0);
}

test(
  'snapshot, live updates, and a reconnect with the cursor resumes without gaps or repeats, ' +
    'also after a feed restart',
  async () => {
    const cfg = await realStack();
    const mt = await createMetricTopic(cfg);
    const srv = await withServer(cfg, {});
    const w0 = Math.floor(Date.now() / MINUTE) * MINUTE - MINUTE;
    const w1 = w0 + MINUTE;
    try {
      // Three versions of each of four keys: the snapshot must hold only the latest per key.
      const initial = [
        ...batch(w0, 0, 4),
        ...batch(w0, 6, 4),
        ...CATEGORIES.slice(0, 4).map((c, i) => result(w0, c, 100 + i, true)),
      ];
      // batch(w0, 6, 4) starts at category index 0 again (6 % 6), so keys repeat.
      await mt.produce(initial);
      const registry1 = new client.Registry();
      const feed1 = await srv.attach({ registry: registry1 });

      const c1 = await FeedClient.open(srv.wsUrl);
      c1.subscribe([mt.metric]);
      const ready1 = await c1.waitReady();
      const snap = c1.updates().filter((m) => m.snapshot);
      assert.equal(ready1.snapshot, 4);
      assert.equal(snap.length, 4);
      assert.deepEqual(
        snap.map((m) => m.value!.revenue).sort((a, b) => a - b),
        [100, 101, 102, 103],
      );
      for (const m of snap) {
        assert.equal(m.metric, mt.metric);
        assert.equal(m.final, true);
        assert.deepEqual(m.window, { start: w0, end: w0 + MINUTE });
        assert.equal(m.key, `${w0}|${m.value!.category}`);
        assert.equal(typeof m.emittedAt, 'number');
        assert.ok(m.cursor);
      }

      // Live: every provisional and final update, each with a cursor that moves forward.
      const live1 = batch(w1, 1000, 30);
      live1.push(result(w1, 'books', 1030, true));
      await mt.produce(live1);
      const got1 = await c1.waitLive(live1.length);
      assert.deepEqual(
        seqs(got1).sort((a, b) => a - b),
        live1.map((r) => r.revenue),
      );
      assert.ok(got1.some((m) => m.final) && got1.some((m) => !m.final), 'provisional and final updates both arrive');
      assertOrderPerKey(got1);
      const positions = decodeCursor(got1.at(-1)!.cursor);
      assert.equal(
        [...positions.keys()].filter((tp) => tp.startsWith(`${mt.topic}/`)).length,
        3,
        'the cursor names every partition of the topic',
      );

      // Disconnect, miss some updates, come back with the last cursor.
      const cursor1 = c1.lastCursor();
      await c1.close();
      const missed = batch(w1, 2000, 40);
      await mt.produce(missed);
      await feedCaughtUp(feed1, mt);
      const c2 = await FeedClient.open(srv.wsUrl);
      c2.subscribe([mt.metric], cursor1);
      const ready2 = await c2.waitReady();
      assert.equal(ready2.replayed, missed.length);
      assert.deepEqual(ready2.reset, []);
      assert.equal(c2.updates().filter((m) => m.snapshot).length, 0, 'a resumed client gets no snapshot');
      assert.deepEqual(
        seqs(c2.updates()).sort((a, b) => a - b),
        missed.map((r) => r.revenue),
        'exactly the missed updates',
      );
      assertOrderPerKey(c2.updates());
      assert.equal(await counterValue(registry1, 'sluice_feed_resumes_total', { source: 'memory' }), 1);

      // Then live again, nothing twice.
      const after = batch(w1, 3000, 12);
      await mt.produce(after);
      await c2.waitLive(missed.length + after.length);
      assert.deepEqual(
        seqs(c2.updates()).sort((a, b) => a - b),
        [...missed, ...after].map((r) => r.revenue),
      );

      // Restart the feed; updates produced while it is down reach the client through its cursor.
      // A tiny memory makes the new feed read them back from Kafka.
      const cursor2 = c2.lastCursor();
      const closed2 = once(c2.ws, 'close');
      await srv.close().catch(() => {});
      await closed2;
      const srvB = await withServer(cfg, {});
      try {
        const whileDown = batch(w1, 4000, 25);
        await mt.produce(whileDown);
        const registry2 = new client.Registry();
        await srvB.attach({ registry: registry2, replayBufferPerPartition: 2 });
        const c3 = await FeedClient.open(srvB.wsUrl);
        c3.subscribe([mt.metric], cursor2);
        const ready3 = await c3.waitReady();
        assert.equal(ready3.replayed, whileDown.length);
        assert.deepEqual(
          seqs(c3.updates()).sort((a, b) => a - b),
          whileDown.map((r) => r.revenue),
        );
        assertOrderPerKey(c3.updates());
        assert.equal(
          await counterValue(registry2, 'sluice_feed_resumes_total', { source: 'kafka' }),
          1,
          'read back from Kafka',
        );
        const more = batch(w1, 5000, 9);
        await mt.produce(more);
        await c3.waitLive(whileDown.length + more.length);
        assert.deepEqual(
          seqs(c3.updates()).sort((a, b) => a - b),
          [...whileDown, ...more].map((r) => r.revenue),
        );

        // A fresh client on the restarted feed sees the same latest-per-key state.
        const c4 = await FeedClient.open(srvB.wsUrl);
        c4.subscribe([mt.metric]);
        await c4.waitReady();
        const latest = new Map<string, number>();
        for (const r of [...initial, ...live1, ...missed, ...after, ...whileDown, ...more])
          latest.set(`${r.window_start}|${r.category}`, r.revenue);
        assert.deepEqual(new Map(c4.updates().map((m) => [m.key!, m.value!.revenue])), latest);
        await c3.close();
        await c4.close();
      } finally {
        await srvB.close();
      }
    } finally {
      await srv.close().catch(() => {});
      await mt.close();
    }
  },
);

test('a metric topic created after the feed started is served, and the others go on without a gap', async () => {
  const cfg = await realStack();
  const a = await createMetricTopic(cfg, { prefix: 'it_feed_a' });
  const bName = `${a.metric}_later`;
  const srv = await withServer(cfg, {});
  let b: Awaited<ReturnType<typeof createMetricTopic>> | undefined;
  try {
    await srv.attach();
    const c = await FeedClient.open(srv.wsUrl);
    c.subscribe([a.metric, bName]);
    await c.waitReady();
    const w = Math.floor(Date.now() / MINUTE) * MINUTE;
    await a.produce(batch(w, 0, 10));
    await c.waitLive(10);
    b = await createMetricTopic(cfg, { metric: bName });
    await b.produce(batch(w, 100, 10));
    await a.produce(batch(w, 200, 10));
    const got = await c.waitLive(30);
    assert.deepEqual(
      got
        .filter((m) => m.metric === a.metric)
        .map((m) => m.value!.revenue)
        .sort((x, y) => x - y),
      [...batch(w, 0, 10), ...batch(w, 200, 10)].map((r) => r.revenue),
    );
    assert.deepEqual(
      got
        .filter((m) => m.metric === bName)
        .map((m) => m.value!.revenue)
        .sort((x, y) => x - y),
      batch(w, 100, 10).map((r) => r.revenue),
    );
    assert.deepEqual(
      [...decodeCursor(c.lastCursor()).keys()].filter((tp) => tp.startsWith(`metrics.${bName}/`)).sort(),
      [0, 1, 2].map((p) => `metrics.${bName}/${p}`),
      'the cursor now covers every partition of the new topic',
    );
    await c.close();
  } finally {
    await srv.close();
    await a.close();
    await b?.close();
  }
});

test('Origin allow-list and bearer token are checked before the upgrade; the connection cap answers 503', async () => {
  const cfg = await realStack();
  const srv = await withServer(cfg, { token: 's3cret-token', maxConnections: 2 });
  try {
    await srv.attach();
    const port = new URL(srv.http.url).port;
    const auth = { headers: { authorization: 'Bearer s3cret-token' } };
    assert.equal(await refusedStatus(srv.wsUrl, { ...auth, origin: 'https://evil.example' }), 403);
    assert.equal(await refusedStatus(srv.wsUrl, { ...auth, origin: 'null' }), 403);
    assert.equal(await refusedStatus(srv.wsUrl), 401, 'no token');
    assert.equal(await refusedStatus(srv.wsUrl, { headers: { authorization: 'Bearer wrong' } }), 401, 'wrong token');
    assert.equal(await refusedStatus(`${srv.wsUrl}?token=s3cret-tokeN`), 401, 'wrong token in the query');

    const a = await FeedClient.open(srv.wsUrl, { ...auth, origin: `http://127.0.0.1:${port}` }); // same origin
    // localhost, token in the query
    const b = await FeedClient.open(`${srv.wsUrl}?token=s3cret-token`, { origin: 'http://localhost:5173' });
    assert.equal(await refusedStatus(srv.wsUrl, auth), 503, 'over the connection cap');
    await a.close();
    const c = await eventually(
      () => FeedClient.open(srv.wsUrl, auth).catch(() => undefined),
      'a connection slot to free up',
    );
    await c.close();
    await b.close();
  } finally {
    await srv.close();
  }

  // An explicit list replaces the localhost default.
  const srv2 = await withServer(cfg, { allowedOrigins: ['https://dash.example.com'] });
  try {
    await srv2.attach();
    assert.equal(await refusedStatus(srv2.wsUrl, { origin: 'http://localhost:5173' }), 403);
    const ok = await FeedClient.open(srv2.wsUrl, { origin: 'https://dash.example.com' });
    await ok.close();
  } finally {
    await srv2.close();
  }
});

test('a frame over maxPayload closes the connection; a bad subscribe is answered with an error', async () => {
  const cfg = await realStack();
  const srv = await withServer(cfg, { maxPayload: 1024 });
  try {
    await srv.attach();
    const big = await FeedClient.open(srv.wsUrl);
    big.ws.send(JSON.stringify({ subscribe: ['x'], pad: 'x'.repeat(4096) }));
    await eventually(async () => big.closeCode, 'the oversized frame to close the connection');
    assert.equal(big.closeCode, 1009);

    const bad = await FeedClient.open(srv.wsUrl);
    bad.ws.send(JSON.stringify({ subscribe: 'revenue_per_minute' }));
    await eventually(async () => bad.closeCode, 'a bad subscribe to close the connection');
    assert.equal(bad.closeCode, 1008);
    assert.equal(bad.messages[0]?.code, 'INVALID_SUBSCRIBE');

    const badCursor = await FeedClient.open(srv.wsUrl);
    badCursor.subscribe(['revenue_per_minute'], 'not*a*cursor');
    await eventually(async () => badCursor.closeCode, 'a bad cursor to close the connection');
    assert.equal(badCursor.messages[0]?.code, 'INVALID_CURSOR');
  } finally {
    await srv.close();
  }
});

test('a snapshot or replay larger than the send limit is paced to a reading client, not cut off', async () => {
  const cfg = await realStack();
  const mt = await createMetricTopic(cfg, { prefix: 'it_feed_big' });
  const registry = new client.Registry();
  const srv = await withServer(cfg, { maxBufferedBytes: 64 * 1024 });
  try {
    const w = Math.floor(Date.now() / MINUTE) * MINUTE;
    const many = (from: number) =>
      Array.from({ length: 3000 }, (_, i) => result(w, `category-${String(i).padStart(5, '0')}`, from + i));
    await mt.produce(many(0));
    const feed = await srv.attach({ registry });
    const c1 = await FeedClient.open(srv.wsUrl);
    c1.subscribe([mt.metric]);
    assert.equal((await c1.waitReady()).snapshot, 3000, 'about 900 KB of snapshot through a 64 KB send limit');
    const cursor = c1.lastCursor();
    await c1.close();
    await mt.produce(many(10_000));
    await feedCaughtUp(feed, mt);
    const c2 = await FeedClient.open(srv.wsUrl);
    c2.subscribe([mt.metric], cursor);
    assert.equal((await c2.waitReady()).replayed, 3000);
    assert.deepEqual(
      seqs(c2.updates()).sort((a, b) => a - b),
      many(10_000).map((r) => r.revenue),
    );
    assert.equal(await counterValue(registry, 'sluice_feed_clients_dropped_total'), 0);
    await c2.close();
  } finally {
    await srv.close();
    await mt.close();
  }
});

test('a client that stops reading is dropped instead of being buffered without bound; others keep up', async () => {
  const cfg = await realStack();
  const mt = await createMetricTopic(cfg, { prefix: 'it_feed_slow' });
  const registry = new client.Registry();
  const srv = await withServer(cfg, { maxBufferedBytes: 4 * 1024 * 1024 });
  try {
    const feed = await srv.attach({ registry });
    const reader = await FeedClient.open(srv.wsUrl);
    reader.subscribe([mt.metric]);
    const stuck = await FeedClient.open(srv.wsUrl);
    stuck.subscribe([mt.metric]);
    await reader.waitReady();
    await stuck.waitReady();
    // The stuck client's socket stops reading: what the server sends piles up in the kernel
    // buffers, then in the server's own send buffer.
    (stuck.ws as unknown as { _socket: { pause(): void } })._socket.pause();

    const w = Math.floor(Date.now() / MINUTE) * MINUTE;
    const pad = 'p'.repeat(3000);
    const total = 6000;
    const produced = mt.produce(
      Array.from({ length: total }, (_, i) => ({ ...result(w, `${CATEGORIES[i % CATEGORIES.length]}-${pad}`, i) })),
    );
    // The reading client looks away for two seconds during the burst (a GC pause, a busy tab, a
    // shared CI core): the feed waits for it rather than dropping it with the stuck one.
    await reader.waitLive(1, 60_000);
    const readerSocket = (reader.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    readerSocket.pause();
    await sleep(2_000);
    readerSocket.resume();
    await produced;
    await reader.waitLive(total, 180_000); // a generous condition wait: CI machines are shared
    await eventually(
      async () => (await counterValue(registry, 'sluice_feed_clients_dropped_total', { reason: 'slow' })) >= 1,
      'the stuck client to be dropped',
      60_000,
    );
    assert.equal(feed.connections(), 1, 'only the reading client is left');
    assert.equal(reader.live().length, total, 'the reading client got every update');
    (stuck.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await eventually(async () => stuck.closeCode, 'the stuck client to see its connection closed');
    assert.ok([1013, 1006].includes(stuck.closeCode!), `close code ${stuck.closeCode}`);
    assert.ok(stuck.live().length < total, 'the stuck client did not get everything buffered for it');
    await reader.close();
  } finally {
    await srv.close();
    await mt.close();
  }
});
