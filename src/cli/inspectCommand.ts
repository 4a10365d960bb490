import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { kafkaOffset, pointInTime, positiveWholeNumber, wholeNumber } from './argParsers.ts';
import { inspectTopic, type InspectedRecord } from '../admin/inspectTopic.ts';
import { terminalSafe } from '../admin/terminalSafe.ts';
import { shortenLongStrings, shortenString } from '../admin/shortenForDisplay.ts';
import { requireServices } from './requireServices.ts';

/**
 * `sluice inspect TOPIC`: decoded records with their headers. Avro values through the registry,
 * DLQ headers as text, undecodable bytes escaped (never raw control characters on the terminal),
 * personal data (fields marked `"sluice.pii"` in the writer schema) hidden unless `--show-pii`.
 */

/** How much of each string `inspect` prints by default (bytes): a screenful, not a megabyte. */
export const DEFAULT_MAX_BYTES = 1024;

/**
 * One block per record: coordinates, key, headers, value as indented JSON; all terminal-safe.
 * Strings (key, header values, strings in the value) longer than `maxBytes` are shortened, with
 * the bytes left out shown (0: everything).
 */
export function formatInspected(records: InspectedRecord[], maxBytes = DEFAULT_MAX_BYTES): string {
  return records
    .map((full) => {
      const r = {
        ...full,
        key: full.key === null ? null : shortenString(full.key, maxBytes),
        headers: shortenLongStrings(full.headers, maxBytes) as Record<string, string>,
        value: shortenLongStrings(full.value, maxBytes),
      };
      const schema = r.schemaId === undefined ? '' : `  schema id ${r.schemaId}`;
      const lines = [`── ${r.topic} [partition ${r.partition}] @ offset ${r.offset}  ${r.time}${schema}`];
      if (r.piiMasked) lines.push(`personal data hidden: ${r.piiMasked.join(', ')} (--show-pii shows it)`);
      lines.push(`key: ${r.key === null ? '(null)' : JSON.stringify(r.key)}`);
      const headers = Object.entries(r.headers);
      if (headers.length) {
        lines.push('headers:');
        const width = Math.max(...headers.map(([k]) => JSON.stringify(k).length - 2));
        for (const [k, v] of headers)
          lines.push(`  ${JSON.stringify(k).slice(1, -1).padEnd(width)}  ${JSON.stringify(v).slice(1, -1)}`);
      }
      lines.push(`value: ${r.value === null ? '(null: tombstone)' : JSON.stringify(r.value, null, 2)}`);
      return terminalSafe(lines.join('\n'));
    })
    .join('\n\n');
}

interface InspectFlags {
  fromBeginning?: boolean;
  offset?: string;
  since?: number;
  partition?: number;
  limit: number;
  maxBytes: number;
  json?: boolean;
  readUncommitted?: boolean;
  showPii?: boolean;
}

/** Registers `inspect`. */
export function inspectCommand(program: Command): void {
  program
    .command('inspect')
    .argument('<topic>', 'the topic to read')
    .description(
      'Decoded records with headers: Avro through the registry, DLQ headers as text, other bytes shown safely ' +
        '(default: the newest --limit records)',
    )
    .option('--from-beginning', 'from the first record still in the topic')
    .option('--offset <n>', 'from this offset (in every partition, or in --partition)', kafkaOffset)
    .option('--since <time>', 'from the first record at or after this time (ISO, epoch ms, or 15m/2h ago)', pointInTime)
    .option('--partition <n>', 'only this partition', wholeNumber)
    .option('--limit <n>', 'at most this many records', positiveWholeNumber, 20)
    .option(
      '--max-bytes <n>',
      'longest string printed whole (key, header, value field); longer ones are cut and their size shown ' +
        '(0: no limit; --json always prints everything)',
      wholeNumber,
      DEFAULT_MAX_BYTES,
    )
    .option('--json', 'one JSON object per line, for scripts (full values)')
    .option(
      '--show-pii',
      'show the fields its writer schema marks "sluice.pii" (personal data) as they are; default: [redacted]',
    )
    .option(
      '--read-uncommitted',
      'also records of open and aborted transactions (exactly-once topics; default: committed only, ' +
        'as every Sluice reader)',
    )
    .action(async (topic: string, flags: InspectFlags) => {
      const cfg = loadConfig();
      await requireServices(cfg, ['kafka', 'registry']);
      const records = await inspectTopic(cfg, {
        topic,
        fromBeginning: flags.fromBeginning,
        offset: flags.offset,
        since: flags.since,
        partition: flags.partition,
        limit: flags.limit,
        readUncommitted: flags.readUncommitted,
        showPii: flags.showPii,
      });
      if (flags.json) {
        for (const r of records) process.stdout.write(`${terminalSafe(JSON.stringify(r))}\n`);
        return;
      }
      process.stdout.write(
        records.length
          ? `${formatInspected(records, flags.maxBytes)}\n`
          : `no records in ${terminalSafe(topic)} for that selection\n`,
      );
    });
}
