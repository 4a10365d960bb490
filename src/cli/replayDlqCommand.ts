import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { kafkaOffset, pointInTime, positiveNumber, wholeNumber } from './argParsers.ts';
import { withInterrupt } from './withInterrupt.ts';
import { formatRate, startProgress } from '../core/pacing.ts';
import { replayDlq } from '../admin/replayDlq.ts';
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_TRACKING_TOPIC } from '../admin/replay/replayOptions.ts';
import type { DryRunReport, ReplayProgress, ReplaySummary } from '../admin/replay/replayResult.ts';
import { TOPOLOGIES } from '../../topologies/index.ts';
import { requireServices } from './requireServices.ts';

/**
 * `sluice replay-dlq --from TOPIC`: re-publish dead-letter records once their cause is fixed
 * (or `--dry-run` to see what would pass today). Progress on stderr every second, the summary on
 * stdout (`--json` for scripts). Ctrl-C stops after the current record; a rerun continues.
 * Exit codes: 0 done, 1 some records failed, 130 interrupted.
 */

interface ReplayFlags {
  from: string;
  to?: string;
  reason?: string;
  rule?: string;
  partition?: number;
  fromOffset?: string;
  toOffset?: string;
  since?: number;
  until?: number;
  key?: string;
  schemaId?: number;
  limit?: number;
  rate?: number;
  maxAttempts: number;
  dryRun?: boolean;
  json?: boolean;
  trackingTopic: string;
  retryFailed?: boolean;
}

const count = (m: Record<string, number>) =>
  Object.entries(m)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k}=${n}`)
    .join(' ') || '-';

function progressLine(p: ReplayProgress): string {
  const share = p.total ? ` (${Math.min(100, Math.round((p.read / p.total) * 100))}%)` : '';
  const read = `read ${p.read}/${p.total}${share}, matched ${p.matched}`;
  if (p.dryRun)
    return `replay-dlq (dry run) ${p.dlqTopic}: ${read}, would pass ${p.wouldPass}, would fail ${p.wouldFail.total}`;
  return (
    `replay-dlq ${p.dlqTopic}: ${read}, replayed ${p.replayed}, skipped ${p.skipped}, parked ${p.parked}, ` +
    `failed ${p.failed} — ${formatRate(p.replayed + p.parked, p.elapsedMs)}`
  );
}

export function formatReplayResult(r: ReplaySummary | DryRunReport): string {
  if (r.dryRun) {
    return [
      `dry run of ${r.dlqTopic} against today's schemas and rules (nothing written):`,
      `  read ${r.read}, matched ${r.matched}`,
      `  would pass        ${r.wouldPass}`,
      `  would fail again  ${r.wouldFail.total}   by reason: ${count(r.wouldFail.byReason)}` +
        `   by rule: ${count(r.wouldFail.byRule)}`,
      `  would be parked   ${r.wouldPark}`,
      ...(r.wouldBeFiltered ? [`  filtered out      ${r.wouldBeFiltered}`] : []),
      ...(r.unvalidated ? [`  not validated     ${r.unvalidated} (no topology reads the destination topic)`] : []),
      ...(Object.keys(r.cannotReplay).length ? [`  cannot replay     ${count(r.cannotReplay)}`] : []),
      `  already replayed  ${r.skippedAlreadyReplayed} (skipped)`,
      ...(r.interrupted ? ['  interrupted: rerun to evaluate the rest'] : []),
    ].join('\n');
  }
  return [
    `replayed ${r.dlqTopic}:`,
    `  read ${r.read}, matched ${r.matched}`,
    `  replayed  ${r.replayed}${Object.keys(r.byTopic).length ? `   to: ${count(r.byTopic)}` : ''}`,
    `  skipped   ${r.skipped} (already replayed)`,
    `  parked    ${r.parked}${r.parked ? ` (in ${r.dlqTopic}.parked: at max attempts)` : ''}`,
    `  failed    ${r.failed}${r.failed ? `   ${count(r.failures)}` : ''}`,
    ...(r.untracked
      ? [`  WARNING: ${r.untracked} replayed records could not be tracked; a rerun would replay them again`]
      : []),
    ...(r.limitReached ? ['  stopped at --limit: rerun to continue'] : []),
    ...(r.interrupted ? ['  interrupted: rerun to continue where this run stopped'] : []),
  ].join('\n');
}

/** Registers `replay-dlq`. */
export function replayDlqCommand(program: Command): void {
  program
    .command('replay-dlq')
    .description(
      'Re-publish dead-letter records to their original topic (or --to), idempotently; --dry-run predicts the ' +
        "outcome with today's schemas and rules",
    )
    .requiredOption('--from <topic>', 'the DLQ topic to read, e.g. oltp.orders.dlq')
    .option('--to <topic>', 'publish here instead of the original topic (sluice.error.topic)')
    .option('--reason <reason>', 'only records with this sluice.error.reason: deserialize, schema, rule, processing')
    .option('--rule <name>', 'only records rejected by this rule')
    .option('--partition <n>', 'only records from this original partition', wholeNumber)
    .option('--from-offset <n>', 'only records at or after this original offset', kafkaOffset)
    .option('--to-offset <n>', 'only records at or before this original offset', kafkaOffset)
    .option(
      '--since <time>',
      'only records that failed at or after this time (ISO, epoch ms, or 15m/2h ago)',
      pointInTime,
    )
    .option('--until <time>', 'only records that failed before this time', pointInTime)
    .option('--key <key>', 'only records with this key')
    .option('--schema-id <n>', 'only records written with this schema id', wholeNumber)
    .option('--limit <n>', 'replay at most this many records (already replayed ones do not count)', wholeNumber)
    .option('--rate <n>', 'records per second (default: unlimited)', positiveNumber)
    .option(
      '--retry-failed',
      'also replay records that failed again after an earlier replay (one attempt each run, parked past ' +
        '--max-attempts)',
    )
    .option(
      '--max-attempts <n>',
      'park records replayed this many times already instead of replaying them',
      wholeNumber,
      DEFAULT_MAX_ATTEMPTS,
    )
    .option('--tracking-topic <topic>', 'compacted topic recording what was replayed', DEFAULT_TRACKING_TOPIC)
    .option('--dry-run', "validate against today's schemas and rules and report; write nothing")
    .option('--json', 'print the summary as JSON')
    .action((flags: ReplayFlags) =>
      withInterrupt((signal) => runReplay(flags, signal), 'stopping after the current record (again to force)…'),
    );
}

/** Runs the replay with a progress line on stderr, then prints the result and sets the exit code. */
async function runReplay(flags: ReplayFlags, signal: AbortSignal): Promise<void> {
  const cfg = loadConfig();
  await requireServices(cfg, ['kafka', 'registry']);
  let latest: ReplayProgress | undefined;
  const progress = startProgress(() => (latest ? progressLine(latest) : `replay-dlq ${flags.from}: starting…`), {
    enabled: true,
  });
  let progressShown = true;
  const stopProgress = (finalLine: boolean) => {
    if (progressShown) {
      progressShown = false;
      progress.stop(finalLine);
    }
  };
  try {
    const result = await replayDlq(cfg, {
      from: flags.from,
      to: flags.to,
      reason: flags.reason,
      rule: flags.rule,
      partition: flags.partition,
      fromOffset: flags.fromOffset,
      toOffset: flags.toOffset,
      since: flags.since,
      until: flags.until,
      key: flags.key,
      schemaId: flags.schemaId,
      limit: flags.limit,
      rate: flags.rate,
      maxAttempts: flags.maxAttempts,
      retryFailed: flags.retryFailed,
      dryRun: Boolean(flags.dryRun),
      topologies: TOPOLOGIES,
      signal,
      onProgress: (p) => {
        latest = p;
      },
    });
    stopProgress(true);
    process.stdout.write(`${flags.json ? JSON.stringify(result, null, 2) : formatReplayResult(result)}\n`);
    if (result.interrupted) process.exitCode = 130;
    else if (!result.dryRun && (result.failed > 0 || result.untracked > 0)) process.exitCode = 1;
  } finally {
    stopProgress(false);
  }
}
