import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../src/config/config.ts';
import { createKafkaClient, type KafkaClient } from '../../src/kafka/createKafkaClient.ts';
import { createAvroSerde } from '../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../src/serde/schemaRegistry.ts';
import { planChaos, runChaos, type ChaosLog } from './chaosSchedule.ts';
import { checkClicks, checkEntities } from './checkRecords.ts';
import { checkLake } from './checkLake.ts';
import { checkWarehouse } from './checkWarehouse.ts';
import { checkWindows } from './checkWindows.ts';
import { startClickFeed, type ClickTruth } from './clickFeed.ts';
import { collectSnapshot, type Snapshot } from './collect.ts';
import { drain, type DrainResult } from './drain.ts';
import { finalExtract, seedShop, sqlBadCounts, startShopActivity } from './oltpFeed.ts';
import type { ChaosOptions, Guarantee } from './options.ts';
import { check, formatCheckLine, type Check } from './report.ts';
import { createRunnerFleet, type RunnerFleet, type UnexpectedExit } from './runnerFleet.ts';
import { freshStack } from './stackControl.ts';

/**
 * One guarantee, start to end: a clean stack, the seeded shop, runners in child processes, the
 * run phase (clicks, shop activity, extracts, chaos), the drain, the checks.
 */

export interface GuaranteeResult {
  guarantee: Guarantee;
  startedAt: string;
  durationMs: number;
  phasesMs: Record<string, number>;
  logDir: string;
  clicks?: Omit<ClickTruth, 'kindByHash' | 'validIds'>;
  shop?: Record<string, unknown>;
  chaos?: ChaosLog;
  unexpectedExits: UnexpectedExit[];
  drain?: DrainResult;
  resume?: {
    killsPlanned: number;
    killsDone: number;
    resumeMs: (number | null)[];
    medianMs: number | null;
    maxMs: number | null;
  };
  checks: Check[];
  facts: Record<string, unknown>;
  error?: string;
}

/** Fleets still running, for the harness's SIGINT handler. */
export const liveFleets = new Set<RunnerFleet>();

export async function runGuarantee(
  guarantee: Guarantee,
  opts: ChaosOptions,
  say: (line: string) => void,
): Promise<GuaranteeResult> {
  const s = opts.sizes;
  const t0 = Date.now();
  const phasesMs: Record<string, number> = {};
  let mark = Date.now();
  const phase = (name: string) => {
    phasesMs[name] = Date.now() - mark;
    mark = Date.now();
  };
  const logDir = mkdtempSync(path.join(tmpdir(), `sluice-chaos-${guarantee}-`));
  const result: GuaranteeResult = {
    guarantee,
    startedAt: new Date(t0).toISOString(),
    durationMs: 0,
    phasesMs,
    logDir,
    unexpectedExits: [],
    checks: [],
    facts: {},
  };
  let fleet: RunnerFleet | undefined;
  let kafka: KafkaClient | undefined;
  // Feeds still running if the harness fails half-way: stopped before the next guarantee starts.
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const stackCfg = await freshStack(say);
    const cfg: Config = { ...stackCfg, maxMessageBytes: s.maxMessageBytes };
    phase('stack');
    const shop = await seedShop(cfg, s.seed, `${opts.seed}-shop`);
    say(
      `seeded: ${shop.seeded.customers} customers, ${shop.seeded.products} products, ${shop.seeded.orders} orders (${shop.seeded.orderItems} items); initial extract ${shop.extractedRows} rows`,
    );
    phase('seed');

    fleet = createRunnerFleet({
      env: {
        ...process.env,
        SLUICE_PROCESSING_GUARANTEE: guarantee,
        SLUICE_MAX_MESSAGE_BYTES: String(s.maxMessageBytes),
        SLUICE_LOG_LEVEL: process.env.SLUICE_CHAOS_RUNNER_LOG_LEVEL ?? 'warn',
      },
      basePort: cfg.httpPort + 10,
      logDir,
      say,
    });
    liveFleets.add(fleet);
    result.unexpectedExits = fleet.unexpectedExits;
    fleet.start(0);
    fleet.start(1);
    say(
      `runners 0 and 1 started (sluice run --no-feed --no-extract, HTTP ${fleet.port(0)} and ${fleet.port(1)}, SLUICE_PROCESSING_GUARANTEE=${guarantee}; logs in ${logDir})`,
    );
    await waitConsuming(fleet, 0, 180_000);
    phase('runnersUp');
    say(`runner 0 consuming after ${(phasesMs.runnersUp / 1000).toFixed(1)}s`);

    kafka = createKafkaClient(cfg, 'sluice-chaos');
    const runMs = s.runSeconds * 1000;
    const runStart = Date.now();
    const clicks = startClickFeed(cfg, {
      count: s.clicks,
      rate: s.clicks / s.runSeconds,
      seed: `${opts.seed}-clicks`,
      badRatio: s.clickBadRatio,
      products: shop.products,
      customerIds: shop.customerIds,
      say,
    });
    const activity = startShopActivity(cfg, {
      rate: s.oltpChangesPerSecond,
      badRatio: s.oltpBadRatio,
      seed: `${opts.seed}-activity`,
      extractEveryMs: s.extractEverySeconds * 1000,
      say,
    });
    cleanups.push(
      () => {
        clicks.stop();
        return clicks.done;
      },
      () => activity.stop(),
    );
    const plan = planChaos(opts.seed, runMs, s.kills, s.pgFreezeSeconds * 1000);
    const chaos = runChaos(cfg, fleet, {
      seed: opts.seed,
      plan,
      startedAt: runStart,
      hardStopAt: runStart + runMs * 1.5,
      resumeTimeoutMs: s.resumeTimeoutSeconds * 1000,
      say,
    });
    const ticker = setInterval(() => {
      void progressLine(kafka!, fleet!, clicks.produced(), s.clicks, runStart, runMs).then(say, () => {});
    }, 15_000);
    try {
      result.chaos = await chaos;
      const left = runStart + runMs - Date.now();
      if (left > 0) await sleep(left);
      const shopEnd = await activity.stop();
      result.shop = {
        seeded: shop.seeded,
        initialExtractRows: shop.extractedRows,
        activity: shopEnd.activity,
        activityError: shopEnd.activityError,
        extracts: shopEnd.extracts,
      };
      say(
        `run phase over after ${((Date.now() - runStart) / 1000).toFixed(0)}s; shop activity stopped (${shopEnd.activity?.total ?? '?'} changes, ${shopEnd.extracts.runs} extracts, ${shopEnd.extracts.failures} failed); waiting for the last clicks (${clicks.produced()}/${s.clicks})`,
      );
      // The producer may be behind its schedule (throttled by the chaos): give it a bounded while.
      const late = setTimeout(() => {
        say(
          `clicks: still ${s.clicks - clicks.produced()} to send 120s after the run; stopping there (the checks use what was sent)`,
        );
        clicks.stop();
      }, 120_000);
      const truth = await clicks.done;
      clearTimeout(late);
      clearInterval(ticker);
      const { kindByHash: _k, validIds: _v, ...clickSummary } = truth;
      result.clicks = clickSummary;
      phase('run');
      if (fleet.alive().includes(1)) {
        const r = await fleet.stop(1);
        say(`runner 1 stopped for the drain (exit ${r.code})`);
      }
      const rows = await finalExtract(cfg, say);
      say(`final extract: ${rows} rows`);
      result.drain = await drain(cfg, kafka, fleet, { timeoutMs: s.drainSeconds * 1000, say });
      for (const k of result.chaos.kills) {
        const life = fleet.lives.find((l) => l.slot === k.slot && l.n === k.process);
        k.allRunningMs = life?.startedAt === undefined ? null : life.startedAt - (result.chaos.startedAt + k.at);
        k.killedBeforeRunning = life?.startedAt === undefined && life?.exitedAt !== undefined;
      }
      phase('drain');

      const snap = await collectSnapshot(cfg, kafka, say);
      phase('collect');
      await fleet.stopAll();
      liveFleets.delete(fleet);
      const serde = createAvroSerde(createRegistryClient(cfg), { maxMessageBytes: cfg.maxMessageBytes });
      await serde.prepare([...snap.read.records.values()].flatMap((l) => l.map((r) => r.value)));
      const sqlTruth = await sqlBadCounts(cfg);
      const c1 = checkClicks(snap, truth, serde, guarantee);
      const c2 = checkEntities(snap, serde, guarantee, shopEnd.activity, sqlTruth);
      const c3 = checkWindows(snap, serde, result.drain.sentinelTime);
      const c4 = checkWarehouse(snap, serde);
      const c5 = checkLake(snap);
      const c6 = [...resumeChecks(result, s.kills), drainCheck(result.drain, snap)];
      result.checks.push(...c1.checks, ...c2.checks, ...c3.checks, ...c4.checks, ...c5.checks, ...c6);
      result.facts = {
        clicks: c1.facts,
        entities: c2.facts,
        sqlBadCounts: sqlTruth,
        windows: c3.facts,
        warehouse: c4.facts,
        lake: c5.facts,
        errorTopics: snap.errorTopicCounts,
        incompleteReads: snap.read.incomplete,
        readTimingsMs: snap.timingsMs,
      };
      phase('checks');
    } finally {
      clearInterval(ticker);
    }
  } catch (err) {
    result.error = (err as Error)?.stack ?? String(err);
    say(`FAILED: ${(err as Error)?.message ?? err}`);
    result.checks.push(
      check({
        section: 1,
        id: 'harness',
        name: 'harness ran to the end',
        expected: 'yes',
        actual: `no: ${(err as Error)?.message ?? err}`,
        pass: false,
      }),
    );
  } finally {
    await Promise.all(cleanups.map((c) => c().catch(() => {})));
    if (fleet) {
      await fleet.stopAll().catch(() => {});
      liveFleets.delete(fleet);
    }
    result.durationMs = Date.now() - t0;
  }
  for (const c of result.checks) say(formatCheckLine(c));
  return result;
}

async function waitConsuming(fleet: RunnerFleet, slot: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const n = await fleet.recordsIn(slot);
    if (n !== undefined && n > 0) return;
    await sleep(250);
  }
  throw new Error(`runner ${slot} consumed nothing within ${timeoutMs / 1000}s (see its log)`);
}

async function progressLine(
  kafka: KafkaClient,
  fleet: RunnerFleet,
  produced: number,
  total: number,
  runStart: number,
  runMs: number,
): Promise<string> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const count = async (t: string) =>
      (await admin.fetchTopicOffsets(t).catch(() => [])).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
    const [silver, dlq, finals] = await Promise.all([
      count('silver.clickstream'),
      count('web.clickstream.dlq'),
      count('metrics.funnel_5m'),
    ]);
    return (
      `run ${Math.round((Date.now() - runStart) / 1000)}s/${runMs / 1000}s: ` +
      `clicks produced ${produced.toLocaleString('en')}/${total.toLocaleString('en')} · ` +
      `silver.clickstream ${silver.toLocaleString('en')} · web.clickstream.dlq ${dlq} · ` +
      `metrics.funnel_5m ${finals} · runners [${fleet.alive().join(', ')}]`
    );
  } finally {
    await admin.disconnect();
  }
}

function median_(sorted: number[]): number | null {
  if (!sorted.length) return null;
  return sorted.length % 2
    ? sorted[(sorted.length - 1) / 2]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
}

function resumeChecks(result: GuaranteeResult, killsPlanned: number): Check[] {
  const kills = result.chaos?.kills ?? [];
  const resume = kills.map((k) => k.resumeMs);
  const ok = resume.filter((x): x is number => x !== null).sort((a, b) => a - b);
  const median = median_(ok);
  const max = ok.length ? ok[ok.length - 1] : null;
  result.resume = { killsPlanned, killsDone: kills.length, resumeMs: resume, medianMs: median, maxMs: max };
  const all = kills
    .map((k) => k.allRunningMs)
    .filter((x): x is number => typeof x === 'number')
    .sort((a, b) => a - b);
  const allMedian = median_(all);
  const allMax = all.length ? all[all.length - 1] : null;
  const allNever = kills.filter((k) => k.allRunningMs === null && !k.killedBeforeRunning).length;
  const killedEarly = kills.filter((k) => k.killedBeforeRunning).length;
  const secs = (ms: number | null) => (ms === null ? '-' : `${(ms / 1000).toFixed(1)}s`);
  const exits = result.unexpectedExits;
  const sd = result.chaos?.scaleDown;
  const broker = result.chaos?.broker;
  const pgFreeze = result.chaos?.pgFreeze;
  return [
    check({
      section: 6,
      id: 'resume.kills',
      name: 'runner SIGKILLs done / resumed',
      expected: `${killsPlanned} / ${killsPlanned}`,
      actual: `${kills.length} / ${ok.length}`,
      pass: kills.length === killsPlanned && ok.length === kills.length,
      note: `resume per kill: ${resume.map(secs).join(', ')}`,
    }),
    check({
      section: 6,
      id: 'resume.median',
      name: 'time to resume (SIGKILL → restarted runner consumes), median',
      expected: '-',
      actual: secs(median),
      pass: null,
    }),
    check({ section: 6, id: 'resume.max', name: 'time to resume, max', expected: '-', actual: secs(max), pass: null }),
    check({
      section: 6,
      id: 'resume.all',
      name: 'SIGKILL → restarted runner runs all 7 topologies (`sluice run:` line), median / max',
      expected: '-',
      actual:
        `${secs(allMedian)} / ${secs(allMax)}` +
        `${killedEarly ? ` (${killedEarly} killed again before)` : ''}${allNever ? ` (${allNever} never)` : ''}`,
      pass: null,
      note:
        'per kill: ' +
        kills.map((k) => (k.killedBeforeRunning ? 'killed before' : secs(k.allRunningMs ?? null))).join(', '),
    }),
    check({
      section: 6,
      id: 'chaos.exits',
      name: 'runner exits nobody asked for (restarted by the harness)',
      expected: '0',
      actual: String(exits.length),
      pass: null,
      note: exits.length
        ? exits
            .slice(0, 3)
            .map((e) => `runner ${e.slot} code ${e.code}: ${e.logTail.split('\n').at(-1)?.slice(0, 160)}`)
            .join(' | ')
        : undefined,
    }),
    check({
      section: 6,
      id: 'chaos.events',
      name: 'broker crash + restart; Postgres SIGSTOP',
      expected: 'done',
      actual:
        `broker ${broker ? (broker.error ? `failed: ${broker.error}` : `down ${secs(broker.downMs)}`) : 'skipped'}; ` +
        `postgres ${pgFreeze ? (pgFreeze.error ? `failed: ${pgFreeze.error}` : `frozen ${secs(pgFreeze.ms)}`) : 'skipped'}`,
      pass: Boolean(
        result.chaos?.broker && !result.chaos.broker.error && result.chaos.pgFreeze && !result.chaos.pgFreeze.error,
      ),
    }),
    check({
      section: 6,
      id: 'chaos.sigterm',
      name: 'second runner stopped with SIGTERM half-way: graceful exit 0',
      expected: 'exit 0',
      actual: sd ? `exit ${sd.code ?? sd.signal} in ${secs(sd.ms)}` : 'skipped',
      pass: sd ? sd.code === 0 : null,
      required: false,
      note:
        sd && !sd.startedBeforeSigterm
          ? '60 s after its last restart it had not yet said it runs every topology; ' +
            'a SIGTERM before `sluice run` installs its handler ends the process at once'
          : undefined,
    }),
  ];
}

/**
 * Drained: nothing moved for 10 s, nothing in flight, and no group left a record it can see
 * unconsumed (visible records at or after its committed offset; commit markers and aborted
 * records do not count, which plain high watermark − committed would).
 */
function drainCheck(d: DrainResult | undefined, snap: Snapshot): Check {
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  if (!d)
    return check({
      section: 6,
      id: 'drain',
      name: 'drained: every group consumed every record, nothing in flight',
      expected: 'yes',
      actual: 'no drain',
      pass: false,
    });
  const unprocessed: Record<string, number> = {};
  for (const [group, g] of Object.entries(d.residualLag)) {
    for (const [tp, committed] of Object.entries(g.committed)) {
      const i = tp.lastIndexOf('/');
      const records = snap.read.records.get(tp.slice(0, i));
      if (!records) continue;
      const p = Number(tp.slice(i + 1));
      const n = records.filter((r) => r.partition === p && r.offset >= committed).length;
      if (n) unprocessed[group] = (unprocessed[group] ?? 0) + n;
    }
  }
  const total = Object.values(unprocessed).reduce((a, b) => a + b, 0);
  return check({
    section: 6,
    id: 'drain',
    name: 'drained: every group consumed every record, nothing in flight',
    expected: 'yes, 0 unconsumed',
    actual:
      `${d.timedOut ? 'not quiet within the bound' : 'quiet'} ` +
      `(${secs(d.quietBeforeSentinelMs)} + ${secs(d.quietAfterSentinelMs)} after the sentinel); ${total} unconsumed${
        total
          ? ` (${Object.entries(unprocessed)
              .map(([g, n]) => `${g} ${n}`)
              .join(', ')})`
          : ''
      }`,
    pass: !d.timedOut && total === 0,
    note:
      `high watermark − committed: ${Object.values(d.residualLag).reduce((n, g) => n + g.lag, 0)} ` +
      '(includes commit markers under exactly_once)',
  });
}
