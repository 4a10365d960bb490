/**
 * End-to-end latency on the local stack: from producing a click event to the provisional
 * `funnel_5m` update that reflects it reaching a WebSocket client of the live feed, at a steady
 * rate. Not part of the tests.
 *
 *   node bench/endToEndLatency.bench.ts [rate=1000] [seconds=15]
 *
 * Each run has topics of its own (`<tag>.web.clickstream`, ..., `metrics.<tag>_funnel_5m`: the
 * feed serves `metrics.<name>`), so a run re-reads nothing of earlier ones and works on a fresh
 * stack: web.clickstream → clickstream topology → silver.clickstream → metrics topology →
 * metrics.<tag>_funnel_5m → feed `/ws`.
 * The runners are child processes of this script (this same file, `--child`), with consumer
 * groups unique to this run, so the producer and the WebSocket client do not share their event
 * loop and the RSS reported is the runners' own. One clickstream runner serves both passes; each
 * pass starts its own metrics runner (and feed) built with `metricsTopology({ emitEveryMs })`:
 * the default (`DEFAULT_EMIT_EVERY_MS`, on change coalesced per window), then 1000 ms (the default
 * before Step 9, for comparison). Fresh groups start from the beginning of the topics, so each
 * pass waits until `/readyz` of every runner shows lag 0 and nothing in flight for 3 s.
 *
 * Method. The client subscribes to `funnel_5m` and keeps, per window, the latest `views` as the
 * baseline until producing starts. Then page_view events of sessions unique to this run (so each
 * one adds exactly 1 to `views`; event_time = Date.now(), product 1..20, price null) are sent in
 * batches of rate/100 every 10 ms with acks=-1. Send time = `performance.now()` just before
 * `producer.send` of the event's batch (not the acknowledgement; the ack latency is reported
 * separately). The k-th of our events in a window counts as reflected by the first update for that
 * window with `views - baseline >= k`; its latency is that update's arrival time (taken on
 * receipt of the WebSocket message) minus its send time. Anyone else producing to web.clickstream
 * during the run would inflate `views` and flatter the figures; the stack is otherwise idle here.
 *
 * Side effects on the stack: none that stay. The run's topics (every name holding its tag) and
 * consumer groups are deleted at the end: the live feed reads every `metrics.*` topic, and earlier
 * runs' would be re-read by the next run's feed, slowing it a little more each time.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import clickstream from '../topologies/clickstream.ts';
import { metricsTopology } from '../topologies/metrics.ts';
import { loadConfig } from '../src/config/config.ts';
import { feedTokenOf } from '../src/feed/feedToken.ts';
import { loadSchema } from '../src/domain/schemas.ts';
import { ensureTopics } from '../src/kafka/ensureTopics.ts';
import { readToEnd } from '../src/kafka/readRange.ts';
import { topologyTopics } from '../src/runner/bootstrap.ts';
import { syntheticPrice } from '../src/shop/generate/clickstreamGenerator.ts';
import { createKafkaClient } from '../src/kafka/createKafkaClient.ts';
import { startRunnerProcess } from '../src/runner/runnerProcess.ts';
import { createAvroSerde } from '../src/serde/avroSerde.ts';
import { createRegistryClient } from '../src/serde/schemaRegistry.ts';
import { renameTopology } from '../src/testing/prefixTopology.ts';
import { REPARTITION_TOPIC } from '../topologies/metrics.ts';
import { startHopProbe } from './hopProbe.ts';
import type { TopologyDefinition } from '../src/topology/types.ts';
import { DEFAULT_EMIT_EVERY_MS } from '../src/windows/windowOperator.ts';
import { NODE_FLAGS } from '../bin/nodeFlags.js';

/** This run's topic names: `metrics.x` → `metrics.<tag>_x` (the feed serves `metrics.<name>`), others `<tag>.x`. */
function renameOf(tag: string): (topic: string) => string {
  return (t) => (t.startsWith('metrics.') ? `metrics.${tag}_${t.slice('metrics.'.length)}` : `${tag}.${t}`);
}

function ownTopics(def: TopologyDefinition, tag: string): TopologyDefinition {
  return renameTopology(def, renameOf(tag), tag);
}

type ChildMsg =
  | { type: 'started'; url: string }
  | { type: 'rss'; rss: number; cpuMicros: number }
  | { type: 'stopped'; peakRss: number }
  | { type: 'failed'; error: string };

if (process.argv[2] === '--child')
  await runChild(process.argv[3], process.argv[4], Number(process.argv[5]), process.argv[6]);
else await main();

/** A runner child: one topology, its own group, HTTP on port 0; talks to the parent over IPC. */
async function runChild(topology: string, groupId: string, emitEveryMs: number, tag: string): Promise<void> {
  const send = (m: ChildMsg) => process.send?.(m);
  let peak = 0;
  const sample = () => {
    const rss = process.memoryUsage().rss;
    peak = Math.max(peak, rss);
    return rss;
  };
  try {
    const cfg = { ...loadConfig(), httpPort: 0 };
    const def = ownTopics(topology === 'clickstream' ? clickstream : metricsTopology({ emitEveryMs }), tag);
    const proc = await startRunnerProcess(cfg, [def], {
      groupId,
      feed: topology === 'metrics',
      shutdownDeadlineMs: 10_000,
    });
    const cpuMicros = () => {
      const u = process.cpuUsage();
      return u.user + u.system;
    };
    const timer = setInterval(() => send({ type: 'rss', rss: sample(), cpuMicros: cpuMicros() }), 100);
    let stopping = false;
    const stop = async (code: number) => {
      if (stopping) return;
      stopping = true;
      clearInterval(timer);
      sample();
      await proc.stop().catch(() => {});
      send({ type: 'stopped', peakRss: peak });
      process.disconnect?.();
      process.exit(code);
    };
    process.on('message', (m) => {
      if ((m as { type?: string }).type === 'stop') void stop(0);
    });
    process.on('disconnect', () => {
      void stop(0);
    });
    void proc.done.then((code) => stop(code));
    send({ type: 'started', url: proc.url });
  } catch (err) {
    send({ type: 'failed', error: String((err as Error)?.stack ?? err) });
    process.exit(1);
  }
}

interface Child {
  proc: ChildProcess;
  url: string;
  rss: number;
  peakRss: number;
  /** CPU time of the process so far (user + system, µs), as of its last report (every 100 ms). */
  cpuMicros: number;
  exited: Promise<void>;
}

async function main(): Promise<void> {
  const RATE = Number(process.argv[2] ?? 1000);
  const SECONDS = Number(process.argv[3] ?? 15);
  const TICK_MS = 10;
  const PER_TICK = Math.max(1, Math.round((RATE * TICK_MS) / 1000));
  const SETTLE_MS = 3_000;
  const WARMUP_SECONDS = 3;
  const CATCH_UP_TIMEOUT_MS = 180_000;
  const DRAIN_MS = 10_000;
  const WINDOW_MS = 5 * 60_000;
  const PRODUCTS = 20;

  const cfg = loadConfig();
  const run = `bench-e2e-${randomBytes(4).toString('hex')}`;
  // Topics of this run only: nothing is re-read from earlier runs, and a fresh stack works.
  const tag = `e2e_${randomBytes(4).toString('hex')}`;
  const T = renameOf(tag);
  const kafka = createKafkaClient(cfg, 'bench-e2e');
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer();
  await producer.connect();
  const clickSchemaId = await registry.register('web.clickstream-value', loadSchema('web.clickstream'));
  const productSchemaId = await registry.register('oltp.products-value', loadSchema('oltp.products'));
  const clickEvent = (session: string, eventTime: number, productId: number) => ({
    event_id: randomUUID(),
    event_type: 'page_view',
    session_id: session,
    customer_id: null,
    event_time: eventTime,
    page_url: '/bench',
    product_id: productId,
    quantity: null,
    price: null,
    order_id: null,
    user_agent: 'sluice-bench',
  });
  // Loads the schema for encodeSync (nothing is sent).
  await serde.encode(clickSchemaId, clickEvent('prime', Date.now(), 1));
  const children: Child[] = [];
  const groups: string[] = [];

  // On a fresh stack nothing has created the topics yet; the runners would, but the reads below come first.
  const topics = [...topologyTopics(ownTopics(clickstream, tag)), ...topologyTopics(ownTopics(metricsTopology(), tag))];
  await ensureTopics(admin, [...new Map(topics.map((t) => [t.topic, t])).values()], {
    partitions: cfg.topicPartitions,
    replicationFactor: cfg.topicReplication,
  });

  // Products 1..20 in the reference table: produce only those missing (or deleted).
  const present = new Map<string, boolean>();
  await readToEnd(kafka, T('oltp.products'), (_p, key, value) => {
    if (key !== null) present.set(key, value !== null);
  });
  const missing = Array.from({ length: PRODUCTS }, (_, i) => i + 1).filter((id) => !present.get(String(id)));
  if (missing.length) {
    const now = Date.now();
    await producer.send({
      topic: T('oltp.products'),
      acks: -1,
      messages: await Promise.all(
        missing.map(async (id) => ({
          key: String(id),
          value: await serde.encode(productSchemaId, {
            product_id: id,
            sku: `BENCH-${id}`,
            name: `Bench product ${id}`,
            category: 'bench',
            price: syntheticPrice(id),
            active: true,
            created_at: now,
            updated_at: now,
            op: 'c',
            extracted_at: now,
          }),
        })),
      ),
    });
  }

  function startChild(topology: string, groupId: string, emitEveryMs: number): Promise<Child> {
    groups.push(groupId);
    const proc = fork(fileURLToPath(import.meta.url), ['--child', topology, groupId, String(emitEveryMs), tag], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // The runners run with Sluice's own V8 flags, as under `sluice run` (bin/nodeFlags.js).
      execArgv: [...process.execArgv, ...NODE_FLAGS],
    });
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    return new Promise<Child>((resolve, reject) => {
      proc.on('message', (raw) => {
        const m = raw as ChildMsg;
        if (m.type === 'started') {
          const child: Child = { proc, url: m.url, rss: 0, peakRss: 0, cpuMicros: 0, exited };
          children.push(child);
          proc.on('message', (r) => {
            const x = r as ChildMsg;
            if (x.type === 'rss') {
              child.rss = x.rss;
              child.cpuMicros = x.cpuMicros;
              child.peakRss = Math.max(child.peakRss, x.rss);
            }
            if (x.type === 'stopped') child.peakRss = Math.max(child.peakRss, x.peakRss);
          });
          resolve(child);
        } else if (m.type === 'failed') reject(new Error(`${topology} runner failed to start: ${m.error}`));
      });
      proc.once('exit', (code) => reject(new Error(`${topology} runner exited with ${code} before starting`)));
    });
  }

  async function stopChild(c: Child): Promise<void> {
    if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
    c.proc.send({ type: 'stop' });
    const t = setTimeout(() => {
      if (c.proc.pid && c.proc.exitCode === null) process.kill(c.proc.pid, 'SIGKILL');
    }, 30_000);
    await c.exited;
    clearTimeout(t);
  }

  interface ReadyStatus {
    topologies: { topology: string; running: boolean; assigned: number; inFlight: number; lag: number }[];
  }
  async function caughtUp(urls: string[]): Promise<void> {
    const deadline = Date.now() + CATCH_UP_TIMEOUT_MS;
    let idleSince: number | undefined;
    while (Date.now() < deadline) {
      const states = await Promise.all(
        urls.map(async (u) => {
          try {
            return (await (await fetch(`${u}/readyz`)).json()) as ReadyStatus;
          } catch {
            return undefined;
          }
        }),
      );
      const idle = states.every((s) =>
        s?.topologies.every((t) => t.running && t.assigned > 0 && t.lag === 0 && t.inFlight === 0),
      );
      if (!idle) idleSince = undefined;
      else if ((idleSince ??= Date.now()) + SETTLE_MS <= Date.now()) return;
      await sleep(200);
    }
    throw new Error(`runners did not catch up within ${CATCH_UP_TIMEOUT_MS / 1000} s`);
  }

  const pct = (sorted: number[], p: number) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN;
  const ms = (x: number) => Math.round(x * 10) / 10;
  const mib = (b: number) => Math.round(b / 2 ** 20);

  async function pass(index: number, emitEveryMs: number, clickChild: Child) {
    const metricsChild = await startChild('metrics', `${run}-metrics-${emitEveryMs}`, emitEveryMs);
    process.stderr.write(`pass ${index} (emitEveryMs=${emitEveryMs}): waiting for the runners to catch up...\n`);
    const t0 = performance.now();
    await caughtUp([clickChild.url, metricsChild.url]);
    const catchUpSeconds = (performance.now() - t0) / 1000;

    // The client: baseline per window until producing starts, then match updates to events.
    const baseline = new Map<number, number>();
    const windows = new Map<number, { sentAt: number[]; next: number }>();
    const latencies: number[] = [];
    let producing = false;
    let updates = 0;
    let snapshots = 0;
    let readyResolve: () => void = () => {};
    const readyP = new Promise<void>((r) => {
      readyResolve = r;
    });
    const ws = new WebSocket(`${metricsChild.url.replace(/^http/, 'ws')}/ws`, {
      headers: { Origin: metricsChild.url, authorization: `Bearer ${feedTokenOf(cfg)}` },
    });
    ws.on('error', (err) => process.stderr.write(`websocket error: ${err.message}\n`));
    ws.on('open', () => ws.send(JSON.stringify({ subscribe: [`${tag}_funnel_5m`] })));
    ws.on('message', (data) => {
      const at = performance.now();
      const msg = JSON.parse(data.toString()) as {
        type: string;
        snapshot?: boolean;
        window?: { start: number };
        value?: { views: number };
        code?: string;
        message?: string;
      };
      if (msg.type === 'ready') {
        readyResolve();
        return;
      }
      if (msg.type === 'error') {
        process.stderr.write(`feed error: ${msg.code} ${msg.message}\n`);
        return;
      }
      if (msg.type !== 'update' || !msg.window || !msg.value) return;
      const start = Number(msg.window.start);
      const views = Number(msg.value.views);
      if (msg.snapshot) snapshots++;
      else updates++;
      if (!producing) {
        baseline.set(start, views);
        return;
      }
      const w = windows.get(start);
      if (!w) return;
      const reached = views - (baseline.get(start) ?? 0);
      while (w.next < w.sentAt.length && w.next < reached) latencies.push(at - w.sentAt[w.next++]);
    });
    await readyP;
    // Where the time goes: when each event's session first shows up on the topics in between.
    const probe = await startHopProbe(kafka, `${run}-probe-${index}`, [
      {
        name: 'silver',
        topic: T('silver.clickstream'),
        // Silver clicks are keyed by their session.
        sessionOf: (r) => r.key?.toString(),
      },
      {
        name: 'repartition',
        topic: T(REPARTITION_TOPIC),
        sessionOf: (r) => (r.value ? (JSON.parse(r.value.toString()) as { id?: string }).id : undefined),
      },
    ]);
    groups.push(`${run}-probe-${index}`);
    const sentAtOf = new Map<string, number>();
    // Warm-up: the same traffic, not measured (it goes into the baseline). The first second
    // after an idle start runs the runners' paths unoptimised (V8 compiles them as they get hot)
    // and was most of the p99 without it; a pipeline that runs all day is measured warm.
    process.stderr.write(`pass ${index}: warming up ${WARMUP_SECONDS} s...\n`);
    for (let tick = 0, seq = 0, t0 = performance.now(); tick < (WARMUP_SECONDS * 1000) / TICK_MS; tick++) {
      const wait = t0 + tick * TICK_MS - performance.now();
      if (wait > 0) await sleep(wait);
      const messages = Array.from({ length: PER_TICK }, () => {
        const session = `${run}-p${index}-w${seq++}`;
        const event = clickEvent(session, Date.now(), (seq % PRODUCTS) + 1);
        return { key: session, value: serde.encodeSync(clickSchemaId, event) };
      });
      await producer.send({ topic: T('web.clickstream'), acks: -1, messages });
    }
    await sleep(1_500); // let in-flight provisional updates settle into the baseline

    process.stderr.write(`pass ${index}: producing ${RATE}/s for ${SECONDS} s...\n`);
    let rssPeak = { click: clickChild.rss, metrics: metricsChild.rss };
    const rssTimer = setInterval(() => {
      rssPeak = {
        click: Math.max(rssPeak.click, clickChild.rss),
        metrics: Math.max(rssPeak.metrics, metricsChild.rss),
      };
    }, 250);
    producing = true;
    const cpuAtStart = { click: clickChild.cpuMicros, metrics: metricsChild.cpuMicros };
    const acks: number[] = [];
    const sends: Promise<unknown>[] = [];
    const ticks = Math.round((SECONDS * 1000) / TICK_MS);
    let seq = 0;
    const start = performance.now();
    for (let tick = 0; tick < ticks; tick++) {
      const wait = start + tick * TICK_MS - performance.now();
      if (wait > 0) await sleep(wait);
      const messages = [];
      const batch: { w: { sentAt: number[] }; i: number }[] = [];
      for (let j = 0; j < PER_TICK; j++, seq++) {
        const session = `${run}-p${index}-${seq}`;
        const eventTime = Date.now();
        const ws0 = Math.floor(eventTime / WINDOW_MS) * WINDOW_MS;
        let w = windows.get(ws0);
        if (!w) {
          w = { sentAt: [], next: 0 };
          windows.set(ws0, w);
        }
        batch.push({ w, i: w.sentAt.push(0) - 1 });
        messages.push({
          key: session,
          value: serde.encodeSync(clickSchemaId, clickEvent(session, eventTime, (seq % PRODUCTS) + 1)),
        });
      }
      const sentAt = performance.now(); // just before send: what the latencies are measured from
      for (const b of batch) b.w.sentAt[b.i] = sentAt;
      for (const m of messages) sentAtOf.set(m.key, sentAt);
      sends.push(
        producer.send({ topic: T('web.clickstream'), acks: -1, messages }).then(() => {
          acks.push(performance.now() - sentAt);
        }),
      );
    }
    await Promise.all(sends);
    const produceSeconds = (performance.now() - start) / 1000;
    const lastSend = performance.now();
    const total = seq;
    while (latencies.length < total && performance.now() - lastSend < DRAIN_MS) await sleep(20);
    clearInterval(rssTimer);
    await probe.stop();
    const hopMs = (hop: string) => {
      const got = probe.arrivals.get(hop)!;
      const xs = [...sentAtOf].flatMap(([s, t]) => (got.has(s) ? [got.get(s)! - t] : [])).sort((a, b) => a - b);
      return { seen: xs.length, p50: ms(pct(xs, 50)), p99: ms(pct(xs, 99)) };
    };
    rssPeak = { click: Math.max(rssPeak.click, clickChild.rss), metrics: Math.max(rssPeak.metrics, metricsChild.rss) };
    await sleep(200); // the children's last CPU reports
    const cpuMsPer1k = (c: Child, at: number) => Math.round(((c.cpuMicros - at) / 1000 / total) * 1000 * 10) / 10;
    ws.close();

    const sorted = latencies.sort((a, b) => a - b);
    const ackSorted = acks.sort((a, b) => a - b);
    const result = {
      emitEveryMs,
      eventsProduced: total,
      eventsMeasured: sorted.length,
      achievedRatePerSecond: Math.round(total / produceSeconds),
      windows: [...windows.keys()].map((s) => new Date(s).toISOString()),
      latencyMs: {
        p50: ms(pct(sorted, 50)),
        p90: ms(pct(sorted, 90)),
        p99: ms(pct(sorted, 99)),
        max: ms(sorted[sorted.length - 1] ?? NaN),
        min: ms(sorted[0] ?? NaN),
        mean: ms(sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1)),
      },
      produceAckMs: { p50: ms(pct(ackSorted, 50)), p99: ms(pct(ackSorted, 99)) },
      hopsMs: { sentToSilver: hopMs('silver'), sentToRepartition: hopMs('repartition') },
      feedMessages: { snapshot: snapshots, updates },
      runnerRssMiB: {
        metrics: mib(rssPeak.metrics),
        clickstream: mib(rssPeak.click),
        total: mib(rssPeak.metrics + rssPeak.click),
        note: 'peak RSS sampled every 250 ms while producing and draining',
      },
      runnerCpuMsPer1kEvents: {
        clickstream: cpuMsPer1k(clickChild, cpuAtStart.click),
        metrics: cpuMsPer1k(metricsChild, cpuAtStart.metrics),
        note: 'CPU time (user + system) of each runner from the first measured send until every event was reflected',
      },
      warmUpSeconds: WARMUP_SECONDS,
      catchUpSeconds: Math.round(catchUpSeconds * 10) / 10,
    };
    await stopChild(metricsChild);
    return result;
  }

  let exitCode = 0;
  try {
    const clickChild = await startChild('clickstream', `${run}-clickstream`, 0);
    const passes = [];
    passes.push(await pass(1, DEFAULT_EMIT_EVERY_MS, clickChild));
    passes.push(await pass(2, 1_000, clickChild));
    const out = {
      bench: 'end-to-end latency: produce click event → provisional funnel_5m update at a WebSocket client',
      run,
      rateEventsPerSecond: RATE,
      seconds: SECONDS,
      batch: `${PER_TICK} events every ${TICK_MS} ms, acks=-1`,
      measuredFrom: "performance.now() just before producer.send of the event's batch (not the ack)",
      measuredTo:
        'arrival at the WebSocket client of the first funnel_5m update whose views - baseline >= k for the k-th event of that window',
      passes,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    if (passes.some((p) => p.eventsMeasured < p.eventsProduced)) {
      process.stderr.write('WARNING: not every event was reflected within the drain time\n');
    }
  } catch (err) {
    process.stderr.write(`FAILED: ${String((err as Error)?.stack ?? err)}\n`);
    exitCode = 1;
  } finally {
    for (const c of children) await stopChild(c);
    await producer.disconnect();
    await admin.deleteGroups(groups).catch(() => {});
    const own = (await admin.listTopics().catch(() => [] as string[])).filter((t) => t.includes(tag));
    if (own.length) await admin.deleteTopics({ topics: own }).catch(() => {});
    await admin.disconnect();
  }
  process.exit(exitCode);
}
