import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { terminalSafe } from '../admin/terminalSafe.ts';
import { checkWarehouse, formatCheckTable, summarize } from '../quality/runWarehouseTests.ts';
import { requireServices } from './requireServices.ts';

/**
 * `sluice check`: the warehouse tests (unique, not_null, relationships, accepted_values,
 * freshness) against the silver and gold tables. Exit 1 when a test fails or cannot run, for CI
 * and cron; warnings exit 0.
 */

/** Registers `check`. */
export function checkCommand(program: Command): void {
  program
    .command('check')
    .description(
      'Warehouse tests (unique, not_null, relationships, accepted_values, freshness) on the silver and gold' +
        ' tables; exit 1 when one fails',
    )
    .option('--json', 'print JSON')
    .option('--schema-prefix <prefix>', 'test the tables under <prefix>_silver and <prefix>_gold', '')
    .action(async (flags: { json?: boolean; schemaPrefix: string }) => {
      const cfg = loadConfig();
      await requireServices(cfg, ['postgres']);
      const results = await checkWarehouse(cfg, { schemaPrefix: flags.schemaPrefix });
      const summary = summarize(results);
      const out = flags.json
        ? JSON.stringify({ ...summary, schemaPrefix: flags.schemaPrefix, tests: results }, null, 2)
        : formatCheckTable(results);
      process.stdout.write(`${terminalSafe(out)}\n`);
      if (summary.ok) return;
      const { fail, error } = summary.counts;
      const names = results.filter((r) => r.status === 'fail' || r.status === 'error').map((r) => r.name);
      const shown = names.slice(0, 3).join('; ') + (names.length > 3 ? `; and ${names.length - 3} more` : '');
      throw new SluiceError(
        'WAREHOUSE_TEST_FAILED',
        `${fail} of ${results.length} warehouse tests failed, ${error} could not run: ${shown}`,
      );
    });
}
