import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import client from 'prom-client';
import { type Config, loadConfig } from '../../../src/config/config.ts';
import type { WarehouseTestResult, WarehouseTestStatus } from '../../../src/quality/runWarehouseTests.ts';
import { createWarehouseTestMetrics } from '../../../src/quality/warehouseTestMetrics.ts';
import {
  loadsWarehouse,
  type ScheduleLog,
  startWarehouseTestSchedule,
  type WarehouseTestScheduleOptions,
} from '../../../src/quality/warehouseTestSchedule.ts';
import { warehouseTestTransitions } from '../../../src/quality/warehouseTestTransitions.ts';
import type { WarehouseTest } from '../../../src/shop/warehouseTests.ts';
import { TOPOLOGIES } from '../../../topologies/index.ts';

const cfg = { warehouseTestsIntervalMs: 300_000 } as Config;
const ORPHAN = 'relationships gold.fact_order_items.product_key -> gold.dim_products.product_key';
const KEY = 'unique gold.fact_orders.order_id';
const TESTS: WarehouseTest[] = [
  { kind: 'unique', layer: 'gold', table: 'fact_orders', column: 'order_id' },
  {
    kind: 'relationships',
    layer: 'gold',
    table: 'fact_order_items',
    column: 'product_key',
    to: { layer: 'gold', table: 'dim_products', column: 'product_key' },
  },
];

function result(name: string, status: WarehouseTestStatus, failingRows = 0, examples: string[] = []) {
  return { name, kind: 'unique', table: 'gold.t', column: 'c', status, failingRows, examples } as WarehouseTestResult;
}

/** A log that keeps its lines. */
function recordingLog(): ScheduleLog & { lines: { level: string; obj: Record<string, unknown>; msg: string }[] } {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  return {
    lines,
    warn: (obj, msg) => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
    info: (obj, msg) => lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
  };
}

/** Until `cond` holds (polled), or fails after 5 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

type Run = WarehouseTestResult[] | Error | Promise<WarehouseTestResult[]>;

/** A schedule whose result source answers `runs` in turn (an Error is thrown), counting calls and overlaps. */
function scheduleOf(runs: Run[], opts: WarehouseTestScheduleOptions = {}) {
  const registry = new client.Registry();
  const log = recordingLog();
  const state = { calls: 0, inFlight: 0, maxInFlight: 0, starts: [] as number[], ends: [] as number[] };
  const completed: WarehouseTestResult[][] = [];
  const schedule = startWarehouseTestSchedule(cfg, registry, {
    intervalMs: 3_600_000,
    minGapMs: 0,
    tests: TESTS,
    log,
    async runTests() {
      const r = runs[Math.min(state.calls++, runs.length - 1)];
      state.starts.push(Date.now());
      state.maxInFlight = Math.max(state.maxInFlight, ++state.inFlight);
      try {
        if (r instanceof Error) throw r;
        return await r;
      } finally {
        state.inFlight--;
        state.ends.push(Date.now());
      }
    },
    onRun: (results) => completed.push(results),
    ...opts,
  });
  return { schedule, registry, log, completed, state };
}

/** A promise of results the test settles when it likes. */
function gate(results: WarehouseTestResult[]) {
  let open: () => void = () => {};
  const promise = new Promise<WarehouseTestResult[]>((r) => {
    open = () => r(results);
  });
  return { promise, open };
}

/** Long enough for a wrongly planned run (delay 0) to start: only to show that none does. */
const settle = () => new Promise((r) => setTimeout(r, 30));

const sample = async (registry: client.Registry, name: string, test?: string) => {
  const text = await registry.metrics();
  const label = test === undefined ? '' : `\\{test="${test.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"\\}`;
  return new RegExp(`^${name}${label} (\\S+)$`, 'm').exec(text)?.[1];
};

test('the gauges: status 0 pass, 1 warn, 2 fail, 3 error; failing rows (none in error); the last run time', async () => {
  const registry = new client.Registry();
  const metrics = createWarehouseTestMetrics(registry);
  metrics.update(
    [result('a', 'pass'), result('b', 'warn', 1), result(ORPHAN, 'fail', 3, ['7']), result('d', 'error')],
    new Date('2026-12-03T12:00:00Z'),
  );
  assert.deepEqual(
    await Promise.all(['a', 'b', ORPHAN, 'd'].map((t) => sample(registry, 'sluice_warehouse_test_status', t))),
    ['0', '1', '2', '3'],
  );
  assert.deepEqual(
    await Promise.all(['a', 'b', ORPHAN, 'd'].map((t) => sample(registry, 'sluice_warehouse_test_failing_rows', t))),
    ['0', '1', '3', undefined],
  );
  assert.equal(await sample(registry, 'sluice_warehouse_tests_last_run_timestamp_seconds'), '1796299200');
  metrics.markNotRun(['a', ORPHAN]);
  assert.equal(await sample(registry, 'sluice_warehouse_test_status', ORPHAN), '3');
  assert.equal(await sample(registry, 'sluice_warehouse_test_failing_rows', ORPHAN), undefined);
  assert.equal(await sample(registry, 'sluice_warehouse_tests_last_run_timestamp_seconds'), '1796299200');
});

test('transitions: a test presumed passing is news when it fails, not while it keeps failing, and when it recovers', () => {
  const t = warehouseTestTransitions();
  const kinds = (results: WarehouseTestResult[]) => t.next(results).map((x) => `${x.kind} ${x.result.name} ${x.from}`);
  assert.deepEqual(kinds([result('a', 'pass'), result('b', 'fail', 1)]), ['failing b pass']);
  assert.deepEqual(kinds([result('a', 'pass'), result('b', 'fail', 2)]), []);
  assert.deepEqual(kinds([result('a', 'warn'), result('b', 'error')]), ['failing a pass', 'failing b fail']);
  assert.deepEqual(kinds([result('a', 'pass'), result('b', 'pass')]), ['recovered a warn', 'recovered b error']);
});

const allPass = [result(KEY, 'pass'), result(ORPHAN, 'pass')];
const orphan = [result(KEY, 'pass'), result(ORPHAN, 'fail', 1, ['424242'])];

test('the schedule runs at start into the gauges, logs a failing test once with its examples, then its recovery', async () => {
  const s = scheduleOf([allPass, orphan, orphan, allPass]);
  try {
    await until(() => s.completed.length === 1, 'the first run');
    assert.equal(await sample(s.registry, 'sluice_warehouse_test_status', ORPHAN), '0');
    assert.equal(await sample(s.registry, 'sluice_warehouse_test_failing_rows', ORPHAN), '0');
    assert.ok(Number(await sample(s.registry, 'sluice_warehouse_tests_last_run_timestamp_seconds')) > 0);
    assert.equal(s.log.lines.length, 0);

    s.schedule.requestRun();
    await until(() => s.completed.length === 2, 'the second run');
    assert.equal(await sample(s.registry, 'sluice_warehouse_test_status', ORPHAN), '2');
    assert.equal(await sample(s.registry, 'sluice_warehouse_test_failing_rows', ORPHAN), '1');
    assert.equal(await sample(s.registry, 'sluice_warehouse_test_status', KEY), '0');
    assert.equal(s.log.lines.length, 1);
    const [warn] = s.log.lines;
    assert.equal(warn.level, 'warn');
    assert.equal(warn.obj.code, 'SLUICE_ERR_WAREHOUSE_TEST_FAILED');
    assert.equal(warn.obj.test, ORPHAN);
    assert.deepEqual(warn.obj.examples, ['424242']);

    s.schedule.requestRun();
    await until(() => s.completed.length === 3, 'the third run');
    assert.equal(s.log.lines.length, 1, 'still failing: not logged again');

    s.schedule.requestRun();
    await until(() => s.completed.length === 4, 'the fourth run');
    assert.equal(await sample(s.registry, 'sluice_warehouse_test_status', ORPHAN), '0');
    assert.deepEqual(
      s.log.lines.slice(1).map((l) => [l.level, l.obj.test]),
      [['info', ORPHAN]],
    );
  } finally {
    await s.schedule.stop();
  }
});

test('a run that fails (database down) warns with its code, puts every test in error and the schedule goes on', async () => {
  const s = scheduleOf([new Error('connect ECONNREFUSED 127.0.0.1:5432'), allPass]);
  try {
    await until(() => s.log.lines.length === 1, 'the warning');
    assert.equal(s.log.lines[0].obj.code, 'SLUICE_ERR_WAREHOUSE_TEST_RUN_FAILED');
    assert.match(String(s.log.lines[0].obj.err), /ECONNREFUSED/);
    assert.equal(s.completed.length, 0);
    assert.equal(await sample(s.registry, 'sluice_warehouse_test_status', KEY), '3');
    assert.equal(await sample(s.registry, 'sluice_warehouse_test_status', ORPHAN), '3');
    assert.equal(await sample(s.registry, 'sluice_warehouse_tests_last_run_timestamp_seconds'), '0');

    s.schedule.requestRun();
    await until(() => s.completed.length === 1, 'the run after the outage');
    assert.equal(await sample(s.registry, 'sluice_warehouse_test_status', ORPHAN), '0');
    assert.equal(s.log.lines.length, 1, 'an outage is not a test transition');
  } finally {
    await s.schedule.stop();
  }
});

test('requests during a run coalesce into one more run, never two at once', async () => {
  const first = gate(allPass);
  const second = gate(allPass);
  const s = scheduleOf([first.promise, second.promise, allPass]);
  try {
    await until(() => s.state.calls === 1, 'the first run to start');
    for (let i = 0; i < 5; i++) s.schedule.requestRun();
    await settle();
    assert.equal(s.state.calls, 1, 'not while one runs');
    first.open();
    await until(() => s.state.calls === 2, 'the requested run');
    s.schedule.requestRun(); // asked during the second run: one more after it
    second.open();
    await until(() => s.completed.length === 3, 'the run asked during the second');
    await settle();
    assert.equal(s.state.calls, 3);
    assert.equal(s.state.maxInFlight, 1);
  } finally {
    await s.schedule.stop();
  }
});

test('a requested run waits for the minimum gap after the previous run, however often it is asked', async () => {
  const s = scheduleOf([allPass], { minGapMs: 150 });
  try {
    await until(() => s.completed.length === 1, 'the first run');
    s.schedule.requestRun();
    s.schedule.requestRun();
    await until(() => s.completed.length === 2, 'the requested run');
    assert.ok(s.state.starts[1] - s.state.ends[0] >= 140, `${s.state.starts[1] - s.state.ends[0]} ms apart`);
    await settle();
    assert.equal(s.state.calls, 2);
  } finally {
    await s.schedule.stop();
  }
});

test('stop waits for the run in progress, drops its results, and nothing runs after it; interval 0 is off', async () => {
  const running = gate(orphan);
  const s = scheduleOf([running.promise]);
  await until(() => s.state.calls === 1, 'the first run to start');
  let stopped = false;
  const stopping = s.schedule.stop().then(() => {
    stopped = true;
  });
  await settle();
  assert.equal(stopped, false, 'stop waits for the run');
  running.open();
  await stopping;
  s.schedule.requestRun();
  await settle();
  assert.equal(s.state.calls, 1);
  assert.equal(s.completed.length, 0);
  assert.deepEqual(s.log.lines, []);
  await s.schedule.stop(); // a second stop (signal, then the runner ending) is harmless

  const off = scheduleOf([allPass], { intervalMs: 0 });
  off.schedule.requestRun();
  await settle();
  await off.schedule.stop();
  assert.equal(off.state.calls, 0);
});

test('the schedule starts in `sluice run` only with the warehouse topology, the one whose outputs are warehouse tables', () => {
  const loading = Object.values(TOPOLOGIES).filter((t) => loadsWarehouse([t]));
  assert.deepEqual(
    loading.map((t) => t.name),
    ['warehouse'],
  );
  assert.equal(loadsWarehouse(Object.values(TOPOLOGIES)), true);
  assert.equal(loadsWarehouse([]), false);
});

test('SLUICE_WAREHOUSE_TESTS_INTERVAL_MS: 5 min by default, 0 turns it off, a negative value is a config error', () => {
  const stackDir = mkdtempSync(path.join(tmpdir(), 'sluice-wht-'));
  assert.equal(loadConfig({ SLUICE_STACK_DIR: stackDir }).warehouseTestsIntervalMs, 300_000);
  assert.equal(
    loadConfig({ SLUICE_STACK_DIR: stackDir, SLUICE_WAREHOUSE_TESTS_INTERVAL_MS: '0' }).warehouseTestsIntervalMs,
    0,
  );
  assert.throws(
    () => loadConfig({ SLUICE_STACK_DIR: stackDir, SLUICE_WAREHOUSE_TESTS_INTERVAL_MS: '-1' }),
    /SLUICE_WAREHOUSE_TESTS_INTERVAL_MS/,
  );
});
