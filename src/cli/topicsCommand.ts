import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { terminalSafe } from '../admin/terminalSafe.ts';
import { formatTopicsTable, listSluiceTopics } from '../admin/listTopics.ts';
import { positiveWholeNumber } from './argParsers.ts';
import { requireServices } from './requireServices.ts';

/** `sluice topics`: every topic with partitions, end offsets, consumer-group lag and DLQ counts by reason. */

/** Registers `topics`. */
export function topicsCommand(program: Command): void {
  program
    .command('topics')
    .description('Every topic: partitions, end offsets, consumer-group lag, and for DLQ topics the count by reason')
    .option(
      '--dlq-limit <n>',
      'read at most this many records per DLQ topic to count reasons',
      positiveWholeNumber,
      100_000,
    )
    .option('--json', 'print JSON')
    .action(async (flags: { dlqLimit: number; json?: boolean }) => {
      const cfg = loadConfig();
      await requireServices(cfg, ['kafka']);
      const rows = await listSluiceTopics(cfg, { dlqLimit: flags.dlqLimit });
      process.stdout.write(`${terminalSafe(flags.json ? JSON.stringify(rows, null, 2) : formatTopicsTable(rows))}\n`);
    });
}
