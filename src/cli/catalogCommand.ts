import type { Command } from 'commander';
import { terminalSafe } from '../admin/terminalSafe.ts';
import type { CatalogEntry } from '../catalog/catalogEntry.ts';
import { addLiveFacts } from '../catalog/catalogLive.ts';
import { declaredCatalog } from '../catalog/declaredCatalog.ts';
import { formatCatalogEntry, formatCatalogTable } from '../catalog/formatCatalog.ts';
import { loadConfig } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';

/**
 * `sluice catalog [NAME] [--json] [--offline]`: every topic and warehouse table with owner,
 * schema versions, fields (doc, PII mark), lineage, freshness and quality checks. Unlike the
 * other one-shot commands it does not stop when a service is down: what the code declares is
 * printed anyway, and each fact that needed the service says `unavailable`.
 */

/** Registers `catalog`. */
export function catalogCommand(program: Command): void {
  program
    .command('catalog')
    .argument('[name]', 'one topic or table (warehouse:SCHEMA.TABLE, or SCHEMA.TABLE when no topic has that name)')
    .description(
      'Every topic and warehouse table: owner, schema versions, fields with docs and PII marks, lineage, ' +
        'freshness and quality checks',
    )
    .option('--json', 'print JSON')
    .option('--offline', 'only what the code declares: ask no service (no registry versions, no measurements)')
    .action(async (name: string | undefined, flags: { json?: boolean; offline?: boolean }) => {
      const cfg = loadConfig();
      const declared = declaredCatalog(cfg);
      const chosen = name ? [findEntry(declared, name)] : declared;
      const entries = flags.offline ? chosen : await addLiveFacts(cfg, chosen, cfg.freshnessSlas);
      const out = flags.json
        ? JSON.stringify(name ? entries[0] : { offline: Boolean(flags.offline), entries }, null, 2)
        : name
          ? formatCatalogEntry(entries[0])
          : formatCatalogTable(entries);
      process.stdout.write(`${terminalSafe(out)}\n`);
    });
}

/** The entry called `name`; a topic wins over a table of the same schema-qualified name. */
export function findEntry(entries: readonly CatalogEntry[], name: string): CatalogEntry {
  const found =
    entries.find((e) => e.name === name) ?? entries.find((e) => e.kind === 'table' && e.name === `warehouse:${name}`);
  if (found) return found;
  throw new SluiceError(
    'CLI_USAGE',
    `no topic or table "${name}" in the catalog; known: ${entries.map((e) => e.name).join(', ')}`,
  );
}
