import client from 'prom-client';
import type { WarehouseTestResult, WarehouseTestStatus } from './runWarehouseTests.ts';

/** The gauge value of each status: alert on `sluice_warehouse_test_status >= 2`. */
export const WAREHOUSE_TEST_STATUS_VALUE: Record<WarehouseTestStatus, number> = { pass: 0, warn: 1, fail: 2, error: 3 };

export interface WarehouseTestMetrics {
  /** Sets the gauges from one completed run, finished at `at`. */
  update(results: readonly WarehouseTestResult[], at?: Date): void;
  /** A run that could not happen (the database down): every named test is in error, its row count unknown. */
  markNotRun(testNames: readonly string[]): void;
}

/**
 * The warehouse test gauges, per test name (kind, table and column: no row contents). The last-run
 * timestamp moves only when a run completes, so an alert on its age catches a schedule that stopped
 * or a database that stays down.
 *
 * @example createWarehouseTestMetrics(proc.registry).update(await checkWarehouse(cfg));
 */
export function createWarehouseTestMetrics(registry: client.Registry): WarehouseTestMetrics {
  const registers = [registry];
  const status = new client.Gauge({
    name: 'sluice_warehouse_test_status',
    help: 'Warehouse test status: 0 pass, 1 warn, 2 fail, 3 error (could not run)',
    labelNames: ['test'],
    registers,
  });
  const failingRows = new client.Gauge({
    name: 'sluice_warehouse_test_failing_rows',
    help: 'Rows that break a warehouse test in its last run (freshness: 1 when stale or empty; none when in error)',
    labelNames: ['test'],
    registers,
  });
  const lastRun = new client.Gauge({
    name: 'sluice_warehouse_tests_last_run_timestamp_seconds',
    help: 'When the warehouse tests last completed a run',
    registers,
  });
  return {
    update(results, at = new Date()) {
      for (const r of results) {
        status.set({ test: r.name }, WAREHOUSE_TEST_STATUS_VALUE[r.status]);
        // A test that could not run counted nothing: no sample rather than a made-up 0.
        if (r.status === 'error') failingRows.remove({ test: r.name });
        else failingRows.set({ test: r.name }, r.failingRows);
      }
      lastRun.set(at.getTime() / 1000);
    },
    markNotRun(testNames) {
      for (const test of testNames) {
        status.set({ test }, WAREHOUSE_TEST_STATUS_VALUE.error);
        failingRows.remove({ test });
      }
    },
  };
}
