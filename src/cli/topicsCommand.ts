import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { terminalSafe } from '../admin/inspectTopic.ts';
import { formatTopicsTable, listSluiceTopics } from '../admin/listTopics.ts';

/** `sluice topics`: every topic with partitions, end offsets, consumer-group lag and DLQ counts by reason. */

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return n;
}

export function topicsCommand(program: Command): void {
  program
    .command('topics')
    .description('Every topic: partitions, end offsets, consumer-group lag, and for DLQ topics the count by reason')
    .option('--dlq-limit <n>', 'read at most this many records per DLQ topic to count reasons', positive, 100_000)
    .option('--json', 'print JSON')
    .action(async (flags: { dlqLimit: number; json?: boolean }) => {
      const rows = await listSluiceTopics(loadConfig(), { dlqLimit: flags.dlqLimit });
      process.stdout.write(`${terminalSafe(flags.json ? JSON.stringify(rows, null, 2) : formatTopicsTable(rows))}\n`);
    });
}
