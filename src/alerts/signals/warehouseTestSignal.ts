import type { Config } from '../../config/config.ts';
import { checkWarehouse, type WarehouseTestResult } from '../../quality/runWarehouseTests.ts';
import type { WarehouseTest } from '../../shop/warehouseTests.ts';
import type { Observation, SignalSource } from '../observation.ts';

/** A warehouse test result as an observation of `warehouse_test_failing`; a test that could not run is unknown. */
export function warehouseTestObservation(r: WarehouseTestResult): Observation {
  const state = r.status === 'fail' ? 'firing' : r.status === 'error' ? 'unknown' : 'ok';
  const detail = r.message ?? (r.examples.length ? `e.g. ${r.examples.join(', ')}` : '');
  return {
    rule: 'warehouse_test_failing',
    subject: r.name,
    state,
    summary:
      `${r.failingRows} failing row${r.failingRows === 1 ? '' : 's'} in ${r.table}` + (detail ? `: ${detail}` : ''),
    evidence: {
      status: r.status,
      table: r.table,
      column: r.column,
      failingRows: r.failingRows,
      examples: r.examples,
    },
    significant: ['status', 'failingRows'],
  };
}

/**
 * Warehouse tests (`checkWarehouse`, the runs of `sluice check` and the runner's schedule).
 * The warehouse database down throws: the incidents stay as they are.
 *
 * @example warehouseTestSignal(cfg)
 */
export function warehouseTestSignal(
  cfg: Config,
  opts: { schemaPrefix?: string; tests?: readonly WarehouseTest[] } = {},
): SignalSource {
  return {
    name: 'warehouse-tests',
    rules: ['warehouse_test_failing'],
    async observe() {
      const results = await checkWarehouse(cfg, opts);
      return results.map(warehouseTestObservation);
    },
  };
}
