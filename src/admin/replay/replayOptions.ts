import { SluiceError } from '../../core/errors.ts';
import type { TopologyDefinition } from '../../topology/types.ts';
import type { ReplayFilters } from './replayFilters.ts';
import type { ReplayProgress } from './replayResult.ts';

/** The compacted topic that records what was replayed, unless `trackingTopic` names another. */
export const DEFAULT_TRACKING_TOPIC = 'sluice.replay.tracking';
/** Replays of one record before it is parked, unless `maxAttempts` says otherwise. */
export const DEFAULT_MAX_ATTEMPTS = 3;

/** What to replay, where to, how much and how fast. */
export interface ReplayOptions extends ReplayFilters {
  /** The DLQ topic to read. */
  from: string;
  /** Re-publish here instead of the original topic (`sluice.error.topic`). */
  to?: string;
  /** At most this many records replayed or parked (records skipped as already replayed do not count). */
  limit?: number;
  /** Records per second written (replayed or parked); unlimited when absent. */
  rate?: number;
  dryRun?: boolean;
  /** A record whose replay count reached this is parked instead of replayed (default 3). */
  maxAttempts?: number;
  /**
   * Replay records that failed again after an earlier replay (each failure is one more attempt,
   * up to maxAttempts, then parked). Without it, a record replayed once is skipped on later runs.
   */
  retryFailed?: boolean;
  /** The topologies a dry run validates with (the CLI passes the application's); none: nothing validates. */
  topologies?: Record<string, TopologyDefinition>;
  trackingTopic?: string;
  /** Aborting stops after the current record; what was replayed is tracked, so a rerun continues. */
  signal?: AbortSignal;
  onProgress?: (progress: ReplayProgress) => void;
  progressIntervalMs?: number;
}

/** Rejects options that cannot work, before any I/O, with a message naming the flag. */
export function checkReplayOptions(opts: ReplayOptions): void {
  const maxAttempts = opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
    throw new SluiceError('CLI_USAGE', `--max-attempts must be a positive integer, not ${opts.maxAttempts}`);
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1))
    throw new SluiceError('CLI_USAGE', `--limit must be a positive integer, not ${opts.limit}`);
  if (opts.rate !== undefined && !(opts.rate > 0))
    throw new SluiceError('CLI_USAGE', `--rate must be a positive number of records per second, not ${opts.rate}`);
  if (opts.to !== undefined && (opts.to === opts.from || opts.to === `${opts.from}.parked`))
    throw new SluiceError(
      'CLI_USAGE',
      `--to ${opts.to} would write the DLQ into itself; name the topic the records should be processed from`,
    );
}
