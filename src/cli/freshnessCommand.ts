import type { Command } from 'commander';
import { terminalSafe } from '../admin/terminalSafe.ts';
import { loadConfig } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { textTable } from '../core/textTable.ts';
import type { FreshnessState } from '../quality/freshnessSlas.ts';
import { type FreshnessResult, measureFreshness } from '../quality/measureFreshness.ts';
import { duration } from '../quality/runWarehouseTests.ts';
import { requireServices, type Service } from './requireServices.ts';

/**
 * `sluice freshness`: every freshness SLA measured now (SLUICE_FRESHNESS_SLAS). Exit 1 when a
 * subject is in breach (too old, empty, missing or not measurable), for CI and cron; warnings
 * exit 0, like `sluice check`.
 */

/** Registers `freshness`. */
export function freshnessCommand(program: Command): void {
  program
    .command('freshness')
    .description('Freshness SLAs: age of the newest data per topic and warehouse table; exit 1 when one is in breach')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const cfg = loadConfig();
      const services: Service[] = [];
      if (cfg.freshnessSlas.some((s) => s.kind === 'topic')) services.push('kafka');
      if (cfg.freshnessSlas.some((s) => s.kind === 'table')) services.push('postgres');
      await requireServices(cfg, services);
      const results = await measureFreshness(cfg);
      const counts = countStates(results);
      const out = flags.json
        ? JSON.stringify({ ok: counts.breach === 0, counts, subjects: results }, null, 2)
        : formatFreshnessTable(results);
      process.stdout.write(`${terminalSafe(out)}\n`);
      if (counts.breach === 0) return;
      const names = results.filter((r) => r.state === 'breach').map((r) => r.subject);
      const shown = names.slice(0, 3).join(', ') + (names.length > 3 ? ` and ${names.length - 3} more` : '');
      throw new SluiceError('FRESHNESS_BREACH', `${counts.breach} of ${results.length} subjects in breach: ${shown}`);
    });
}

/** How many subjects are in each state. */
export function countStates(results: readonly FreshnessResult[]): Record<FreshnessState, number> {
  const counts: Record<FreshnessState, number> = { fresh: 0, warn: 0, breach: 0 };
  for (const r of results) counts[r.state]++;
  return counts;
}

/** The readable table: one line per subject, then the counts. */
export function formatFreshnessTable(results: readonly FreshnessResult[]): string {
  const header = ['SUBJECT', 'SOURCE', 'AGE', 'WARN', 'BREACH', 'STATE', 'NEWEST / DETAIL'];
  const rows = results.map((r) => [
    r.subject,
    r.source,
    r.ageSeconds === null ? '-' : duration(r.ageSeconds * 1000),
    duration(r.warnAfterSeconds * 1000),
    duration(r.breachAfterSeconds * 1000),
    r.state,
    r.message ?? r.newest ?? '',
  ]);
  const c = countStates(results);
  const total = `${results.length} subjects: ${c.fresh} fresh, ${c.warn} warn, ${c.breach} in breach`;
  return [...textTable(header, rows), '', total].join('\n');
}
