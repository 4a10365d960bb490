import pg from 'pg';
import type client from 'prom-client';
import { type Config, pgConnection } from '../config/config.ts';
import { errorCode } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { testName, WAREHOUSE_TESTS, type WarehouseTest } from '../shop/warehouseTests.ts';
import type { TopologyDefinition } from '../topology/types.ts';
import { runWarehouseTests, type WarehouseTestResult } from './runWarehouseTests.ts';
import { createWarehouseTestMetrics } from './warehouseTestMetrics.ts';
import { warehouseTestTransitions } from './warehouseTestTransitions.ts';

/** The lines the schedule logs: a pino logger, or a recorder in tests. */
export interface ScheduleLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface WarehouseTestScheduleOptions {
  /** Time from the end of one run to the next; default SLUICE_WAREHOUSE_TESTS_INTERVAL_MS (0: off). */
  intervalMs?: number;
  /** `requestRun()` never starts a run sooner than this after the previous one ended (default 30 s). */
  minGapMs?: number;
  schemaPrefix?: string;
  /** Default: every warehouse test (`src/shop/warehouseTests.ts`). */
  tests?: readonly WarehouseTest[];
  /** Where results come from; default: `runWarehouseTests` on the schedule's own pool. */
  runTests?: () => Promise<WarehouseTestResult[]>;
  /** Called after each completed run (tests wait on it). */
  onRun?: (results: WarehouseTestResult[]) => void;
  log?: ScheduleLog;
}

export interface WarehouseTestSchedule {
  /**
   * Asks for a run soon, e.g. after a warehouse load committed: coalesced (one run pending at most,
   * however often it is asked) and not sooner than `minGapMs` after the previous run ended.
   */
  requestRun(): void;
  /** Clears the timer, waits for a run in progress and closes the database pool (once, however often called). */
  stop(): Promise<void>;
}

/** Whether one of the topologies writes warehouse tables (an output with a sink named `warehouse.*`). */
export function loadsWarehouse(topologies: readonly TopologyDefinition[]): boolean {
  return topologies.some((t) => t.outputs?.some((o) => o.sink && o.topic.startsWith('warehouse.')));
}

/**
 * Runs the warehouse tests at once and then every interval (never two at once) into the
 * `sluice_warehouse_test*` gauges of `registry`, logging a test once when it starts failing (with
 * up to 5 examples) and once when it recovers. A run that cannot happen (the database down) is a
 * warning with a stable code and every test's gauge says error — it never stops the runner.
 *
 * @example
 *   const warehouseTests = startWarehouseTestSchedule(cfg, proc.registry);
 *   // after a load: warehouseTests.requestRun(); on shutdown:
 *   await warehouseTests.stop();
 */
export function startWarehouseTestSchedule(
  cfg: Config,
  registry: client.Registry,
  opts: WarehouseTestScheduleOptions = {},
): WarehouseTestSchedule {
  const intervalMs = opts.intervalMs ?? cfg.warehouseTestsIntervalMs;
  const minGapMs = opts.minGapMs ?? 30_000;
  const tests = opts.tests ?? WAREHOUSE_TESTS;
  const log = opts.log ?? createLogger('warehouse-tests');
  const metrics = createWarehouseTestMetrics(registry);
  const transitions = warehouseTestTransitions();
  const source = opts.runTests ? { run: opts.runTests, close: async () => {} } : poolSource(cfg, tests, opts, log);
  let timer: NodeJS.Timeout | undefined;
  let nextAt = Number.POSITIVE_INFINITY;
  let current: Promise<void> | undefined;
  let requested = false;
  let lastEndedAt = Number.NEGATIVE_INFINITY;
  let stopped = false;
  let stopping: Promise<void> | undefined;

  const runOnce = async () => {
    try {
      const results = await source.run();
      if (stopped) return;
      metrics.update(results);
      for (const t of transitions.next(results)) {
        const { name, status, failingRows, examples, message } = t.result;
        if (t.kind === 'recovered') log.info({ test: name, from: t.from }, 'warehouse test passes again');
        else
          log.warn(
            { code: errorCode('WAREHOUSE_TEST_FAILED'), test: name, status, failingRows, examples, message },
            `warehouse test ${status === 'error' ? 'cannot run' : status === 'warn' ? 'warns' : 'fails'}`,
          );
      }
      opts.onRun?.(results);
    } catch (err) {
      if (stopped) return;
      metrics.markNotRun(tests.map(testName));
      log.warn({ code: errorCode('WAREHOUSE_TEST_RUN_FAILED'), err: String(err) }, 'warehouse tests did not run');
    }
  };
  const plan = (delayMs: number) => {
    if (stopped) return;
    clearTimeout(timer);
    nextAt = Date.now() + delayMs;
    timer = setTimeout(() => {
      nextAt = Number.POSITIVE_INFINITY;
      requested = false;
      current = runOnce().finally(() => {
        current = undefined;
        lastEndedAt = Date.now();
        plan(requested ? minGapMs : intervalMs);
      });
    }, delayMs);
  };
  if (intervalMs > 0) plan(0);
  return {
    requestRun() {
      if (stopped || intervalMs <= 0) return;
      // During a run: one more after it (the load may have committed after its queries read).
      if (current) {
        requested = true;
        return;
      }
      const soonest = Math.max(0, lastEndedAt + minGapMs - Date.now());
      if (Date.now() + soonest < nextAt) plan(soonest);
    },
    stop() {
      // Idempotent: `sluice run` stops it on a signal and again when the runner is done.
      stopping ??= (async () => {
        stopped = true;
        clearTimeout(timer);
        await current;
        await source.close();
      })();
      return stopping;
    },
  };
}

/**
 * The default source: one pooled connection to the warehouse database, kept between runs only
 * while it is idle for less than a minute (a 5-minute schedule reconnects; a nudged one reuses it).
 */
function poolSource(
  cfg: Config,
  tests: readonly WarehouseTest[],
  opts: WarehouseTestScheduleOptions,
  log: ScheduleLog,
): { run(): Promise<WarehouseTestResult[]>; close(): Promise<void> } {
  const pool = new pg.Pool({
    ...pgConnection(cfg, cfg.warehouseDatabase),
    application_name: 'sluice-run-check',
    max: 1,
    idleTimeoutMillis: 60_000,
    connectionTimeoutMillis: 10_000,
  });
  // An idle connection the server drops must not become an unhandled 'error' that ends the runner.
  pool.on('error', (err) =>
    log.warn({ code: errorCode('WAREHOUSE_TEST_RUN_FAILED'), err: String(err) }, 'warehouse test connection lost'),
  );
  return {
    async run() {
      const conn = await pool.connect();
      let results: WarehouseTestResult[] | undefined;
      try {
        results = await runWarehouseTests(conn, { schemaPrefix: opts.schemaPrefix, tests });
        return results;
      } finally {
        // A test that could not run may have met a broken connection: the next run takes a new one.
        conn.release(!results || results.some((r) => r.status === 'error'));
      }
    },
    close: () => pool.end(),
  };
}
