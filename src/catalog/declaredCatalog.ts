import { TOPOLOGIES } from '../../topologies/index.ts';
import type { Config } from '../config/config.ts';
import { medallionTables } from '../shop/warehouseModel.ts';
import { WAREHOUSE_TESTS } from '../shop/warehouseTests.ts';
import { buildCatalog } from './buildCatalog.ts';
import type { CatalogEntry } from './catalogEntry.ts';

/**
 * The catalog this build of Sluice declares: every topology, the medallion tables, the warehouse
 * tests and the configured freshness SLAs. `sluice catalog` and the dashboard's catalog page
 * both start from it (the live facts come from `addLiveFacts`).
 *
 * @example const entries = declaredCatalog(loadConfig());
 */
export function declaredCatalog(cfg: Pick<Config, 'freshnessSlas'>): CatalogEntry[] {
  return buildCatalog({
    topologies: Object.values(TOPOLOGIES),
    tables: medallionTables(),
    tests: WAREHOUSE_TESTS,
    slas: cfg.freshnessSlas,
  });
}
