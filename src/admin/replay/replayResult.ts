import { errorCode } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import type { DlqEntry } from './dlqEntry.ts';

/** What a replay did, counted as it goes. */
export interface ReplaySummary {
  dryRun: false;
  dlqTopic: string;
  read: number;
  matched: number;
  replayed: number;
  /** Already replayed (tracked) records. */
  skipped: number;
  parked: number;
  failed: number;
  /** Why records failed, by cause. */
  failures: Record<string, number>;
  /** Replayed records per destination topic. */
  byTopic: Record<string, number>;
  /** Replayed or parked, but the tracking record could not be written: a rerun replays them again. */
  untracked: number;
  /** Interrupted by the signal (rerun to continue). */
  interrupted: boolean;
  limitReached: boolean;
}

/** What a replay would do, as a dry run predicts it with today's topologies. */
export interface DryRunReport {
  dryRun: true;
  dlqTopic: string;
  read: number;
  matched: number;
  /** Would pass today's schema and rules (an output other than the DLQ). */
  wouldPass: number;
  /** Would return to the DLQ, by reason and by rule. */
  wouldFail: { total: number; byReason: Record<string, number>; byRule: Record<string, number> };
  /** Would be dropped by a filter of the pipeline (neither output nor DLQ). */
  wouldBeFiltered: number;
  /** At max attempts: would be parked. */
  wouldPark: number;
  /** Would be replayed to a topic no known topology reads: outcome unknown. */
  unvalidated: number;
  /** Could not be replayed (no original topic, destination missing). */
  cannotReplay: Record<string, number>;
  skippedAlreadyReplayed: number;
  interrupted: boolean;
  limitReached: boolean;
}

/** A snapshot of the counts so far, with the DLQ's size and the time spent. */
export type ReplayProgress = (ReplaySummary | DryRunReport) & { total: number; elapsedMs: number };

const log = createLogger('replay');

/** Counts of nothing yet. */
export function emptySummary(dlqTopic: string): ReplaySummary {
  return {
    dryRun: false,
    dlqTopic,
    read: 0,
    matched: 0,
    replayed: 0,
    skipped: 0,
    parked: 0,
    failed: 0,
    failures: {},
    byTopic: {},
    untracked: 0,
    interrupted: false,
    limitReached: false,
  };
}

/** A dry run's counts of nothing yet. */
export function emptyReport(dlqTopic: string): DryRunReport {
  return {
    dryRun: true,
    dlqTopic,
    read: 0,
    matched: 0,
    wouldPass: 0,
    wouldFail: { total: 0, byReason: {}, byRule: {} },
    wouldBeFiltered: 0,
    wouldPark: 0,
    unvalidated: 0,
    cannotReplay: {},
    skippedAlreadyReplayed: 0,
    interrupted: false,
    limitReached: false,
  };
}

/**
 * Counts `n` records that cannot be replayed for `cause` (a catalogued code, or a sentence saying
 * what to fix); a real run also logs it with the record's DLQ coordinates.
 */
export function recordFailure(result: ReplaySummary | DryRunReport, cause: string, e: DlqEntry, n = 1): void {
  if (result.dryRun) {
    result.cannotReplay[cause] = (result.cannotReplay[cause] ?? 0) + n;
    return;
  }
  result.failed += n;
  result.failures[cause] = (result.failures[cause] ?? 0) + n;
  log.warn(
    {
      code: cause.startsWith('SLUICE_ERR_') ? cause : errorCode('CLI_USAGE'),
      cause,
      topic: result.dlqTopic,
      partition: e.record.partition,
      offset: e.record.offset,
    },
    'record not replayed',
  );
}
