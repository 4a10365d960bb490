import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, SETTINGS } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { OLTP_TABLES, type OltpTable } from '../shop/oltp/oltpDdl.ts';
import { parseDuration } from '../core/pacing.ts';
import { extractOnce } from '../../connectors/postgres/extract/source.ts';
import type { ExtractProgress, ExtractResult } from '../../connectors/postgres/extract/extractResult.ts';
import { requireServices } from './requireServices.ts';

/**
 * `sluice extract [table...] [--since TS] [--full]`: one Postgres extract now (the hourly one runs
 * inside `sluice run`). Progress goes to stderr every second; the per-table counts and stored
 * positions to stdout. Ctrl-C stops after the page in flight is acknowledged and its position
 * stored (exit 130); a failure exits 1 with its SLUICE_ERR_* code.
 */

const say = (line: string) => process.stdout.write(`${line}\n`);

/** ISO-8601, epoch milliseconds, or a duration ago ("2h", "30m", "7d"). */
export function parseSinceArgument(value: string, now = Date.now()): string {
  if (/^\d+$/.test(value) && value.length >= 10) return new Date(Number(value)).toISOString();
  if (/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/i.test(value)) return new Date(now - parseDuration(value)).toISOString();
  const ms = Date.parse(value);
  if (!Number.isFinite(ms))
    throw new InvalidArgumentError(
      'expected an ISO-8601 time (2025-06-01T00:00:00Z), epoch milliseconds, or a duration ago (2h, 7d)',
    );
  return new Date(ms).toISOString();
}

function pageSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100_000)
    throw new InvalidArgumentError('expected a whole number of rows between 1 and 100000');
  return n;
}

function formatRate(rowsPerSecond: number): string {
  return rowsPerSecond >= 10_000 ? `${(rowsPerSecond / 1000).toFixed(1)}k rows/s` : `${rowsPerSecond} rows/s`;
}

function progressLine(p: ExtractProgress): string {
  const rows = p.rows.toLocaleString('en');
  return `extract ${p.table}: ${rows} rows (${formatRate(p.rowsPerSecond)})${p.done ? ' done' : ''}`;
}

function printResult(result: ExtractResult): void {
  const tables = Object.values(result.tables);
  const width = Math.max(5, ...tables.map((t) => t.table.length));
  for (const t of tables) {
    const position = t.position ? `${t.position.updated_at} #${t.position.id}` : '(none)';
    const held = t.heldBack
      ? `; ${t.heldBack} rows behind an open transaction or the safety lag are re-read next run`
      : '';
    const rows = `${String(t.rows).padStart(9)} rows`;
    say(`${t.table.padEnd(width)}  ${rows}  ${t.mode.padEnd(11)} → ${t.topic}  position ${position}${held}`);
  }
  say(`${'total'.padEnd(width)}  ${String(result.rows).padStart(9)} rows in ${(result.elapsedMs / 1000).toFixed(1)}s`);
}

interface ExtractFlags {
  since?: string;
  full?: boolean;
  pageSize?: number;
  database?: string;
  json?: boolean;
  progress: boolean;
}

/** The SLUICE_EXTRACT_* settings, one line each, for the help text. */
function extractSettingsHelp(): string {
  return Object.values(SETTINGS as Record<string, { env: string; description: string; default?: string }>)
    .filter((s) => s.env.startsWith('SLUICE_EXTRACT_'))
    .map((s) => `  ${s.env.padEnd(41)} ${s.description}${s.default ? ` (default: ${s.default})` : ''}`)
    .join('\n');
}

export function extractCommand(program: Command): void {
  const settings = extractSettingsHelp();
  program
    .command('extract')
    .argument('[table...]', `tables to extract: ${OLTP_TABLES.join(', ')} (default: all)`)
    .description(
      'One Postgres extract now: rows changed since the stored position, as Avro events on oltp.<table>; ' +
        'backfill with --since or --full',
    )
    .option(
      '--since <ts>',
      'start from rows with updated_at >= this instead of the stored position, which then follows this run ' +
        '(ISO-8601, epoch ms, or a duration ago: 2h)',
      (v) => parseSinceArgument(v),
    )
    .option('--full', 'read every row again (a snapshot: op "r"), ignoring the stored position')
    .option(
      '--page-size <n>',
      'rows per page and per produce request (default: SLUICE_EXTRACT_PAGE_SIZE or 5000)',
      pageSize,
    )
    .option('--database <name>', 'source database on the configured server (default: SLUICE_OLTP_DATABASE)')
    .option('--json', 'print the result as JSON')
    .option('--no-progress', 'no progress lines on stderr')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  sluice extract',
        '  sluice extract orders order_items --since 2025-06-01T00:00:00Z',
        '  sluice extract customers --full',
        '',
        'Settings (environment or config file):',
        settings,
      ].join('\n'),
    )
    .action(async (names: string[], flags: ExtractFlags) => {
      if (flags.full && flags.since !== undefined)
        throw new SluiceError('CLI_USAGE', '--full and --since exclude each other: --full already re-reads every row');
      const unknown = names.filter((n) => !(OLTP_TABLES as readonly string[]).includes(n));
      if (unknown.length)
        throw new SluiceError('CLI_USAGE', `unknown table ${unknown.join(', ')}; known: ${OLTP_TABLES.join(', ')}`);
      const tables = names.length ? ([...new Set(names)] as OltpTable[]) : undefined;
      const cfg = loadConfig();
      await requireServices(cfg, ['postgres', 'kafka', 'registry']);

      const ac = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => {
        if (ac.signal.aborted) {
          process.stderr.write(`\n${sig} again: exiting now; positions are stored up to the last acknowledged page\n`);
          process.exit(130);
        }
        process.stderr.write(`\n${sig}: stopping after the page in flight is acknowledged (again to force)…\n`);
        ac.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let result: ExtractResult;
      try {
        result = await extractOnce(cfg, {
          tables,
          full: flags.full,
          since: flags.since,
          pageSize: flags.pageSize,
          database: flags.database,
          signal: ac.signal,
          onProgress: flags.progress ? (p) => process.stderr.write(`${progressLine(p)}\n`) : undefined,
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      if (flags.json) say(JSON.stringify(result, null, 2));
      else printResult(result);
      if (result.aborted) {
        process.stderr.write(
          'interrupted: every reported row is acknowledged and its position stored; ' +
            'the next extract continues from there\n',
        );
        process.exitCode = 130;
      }
    });
}
