import { sleep, type TokenBucket } from '../../core/pacing.ts';
import type { IHeaders } from '../../kafka/kafkaTypes.ts';
import type { RawRecord, RecordVerdict } from '../readTopicRange.ts';
import { parseDlqEntry, replayHeaders, type DlqEntry } from './dlqEntry.ts';
import type { DryRunValidator } from './dryRunValidator.ts';
import { matchesFilters } from './replayFilters.ts';
import type { ReplayOptions } from './replayOptions.ts';
import { recordFailure, type DryRunReport, type ReplaySummary } from './replayResult.ts';
import type { ReplayTopics } from './replayTopics.ts';
import { originOf, trackingKey, type ReplayTracking } from './replayTracking.ts';
import type { ReplayTopicNames, ReplayWriter } from './replayWriter.ts';

/** Records sent in one produce request at most. */
const BATCH = 100;

/** Everything one replay decides with: its options and the parts it writes and validates through. */
export interface ReplayRunParts {
  opts: ReplayOptions;
  names: ReplayTopicNames;
  maxAttempts: number;
  tracking: ReplayTracking;
  topics: ReplayTopics;
  /** A real run's writer; absent in a dry run. */
  writer?: ReplayWriter;
  /** A dry run's validator; absent in a real run. */
  validator?: DryRunValidator;
  /** The rate limit, when there is one. */
  bucket?: TokenBucket;
}

/** One replay's decisions, record by record: skip, park, replay (or predict), or count a failure. */
export class ReplayRun {
  readonly result: ReplaySummary | DryRunReport;
  private readonly parts: ReplayRunParts;
  /** Records replayed or parked so far (what `limit` counts). */
  private acted = 0;

  constructor(parts: ReplayRunParts, result: ReplaySummary | DryRunReport) {
    this.parts = parts;
    this.result = result;
  }

  /** Handles one DLQ record; false stops the read (signal, or the limit reached). */
  async onRecord(record: RawRecord, heartbeat: () => Promise<void>): Promise<RecordVerdict> {
    const { opts, names, tracking } = this.parts;
    const result = this.result;
    if (opts.signal?.aborted) return false;
    result.read++;
    const e = parseDlqEntry(record);
    if (!matchesFilters(e, opts)) return;
    const key = trackingKey(names.dlqTopic, e);
    if (tracking.isDone(key, opts.retryFailed)) {
      result.matched++;
      if (result.dryRun) result.skippedAlreadyReplayed++;
      else result.skipped++;
      return;
    }
    if (!result.dryRun && !(await this.takeToken(heartbeat))) return false;
    result.matched++;
    tracking.add(key);
    this.acted++;
    await this.route(e, key);
    if (this.parts.writer && this.parts.writer.size >= BATCH) await this.parts.writer.flush();
    if (opts.limit !== undefined && this.acted >= opts.limit) {
      result.limitReached = true;
      return false;
    }
    return undefined;
  }

  /** Parks a record at max attempts; otherwise replays it to its destination, when that can work. */
  private async route(e: DlqEntry, key: string): Promise<void> {
    const { opts, names, topics } = this.parts;
    const target = opts.to ?? e.origTopic;
    if (e.replayCount >= this.parts.maxAttempts) this.park(e, key);
    else if (target === undefined)
      recordFailure(this.result, 'no original topic (no sluice.error.topic header): use --to', e);
    else if (target === names.dlqTopic || target === names.parkedTopic)
      recordFailure(this.result, `destination ${target} is the DLQ itself`, e);
    else if (!(await topics.exists(target)))
      recordFailure(this.result, `destination topic ${target} does not exist`, e);
    else {
      const headers = replayHeaders(e.record.headers, e.replayCount, originOf(names.dlqTopic, e));
      if (this.result.dryRun) await this.predict(this.result, e, target, headers);
      else await this.replay(e, key, target, headers);
    }
  }

  private park(e: DlqEntry, key: string): void {
    if (this.result.dryRun) {
      this.result.wouldPark++;
      return;
    }
    const { record } = e;
    this.parts.writer!.push({
      kind: 'park',
      topic: this.parts.names.parkedTopic,
      trackingKey: key,
      entry: e,
      message: { key: record.key, value: record.value, headers: record.headers, timestamp: String(record.timestamp) },
    });
  }

  private async replay(e: DlqEntry, key: string, target: string, headers: IHeaders): Promise<void> {
    // Back to its original partition when it can: per-key order as the source had it.
    const partition =
      target === e.origTopic &&
      e.origPartition !== undefined &&
      e.origPartition < (await this.parts.topics.partitionsOf(target))
        ? e.origPartition
        : undefined;
    const { record } = e;
    this.parts.writer!.push({
      kind: 'replay',
      topic: target,
      trackingKey: key,
      entry: e,
      message: { key: record.key, value: record.value, headers, partition, timestamp: String(record.timestamp) },
    });
  }

  /** What today's topology would do with the replayed record, counted in the report. */
  private async predict(report: DryRunReport, e: DlqEntry, target: string, headers: IHeaders): Promise<void> {
    const validator = this.parts.validator!;
    const def = validator.topologyFor(target, e.headers['sluice.error.topology']);
    if (!def) {
      report.unvalidated++;
      return;
    }
    const verdict = await validator.evaluate(def, target, e, headers);
    if (verdict.outcome === 'pass') report.wouldPass++;
    else if (verdict.outcome === 'filtered') report.wouldBeFiltered++;
    else {
      report.wouldFail.total++;
      report.wouldFail.byReason[verdict.reason] = (report.wouldFail.byReason[verdict.reason] ?? 0) + 1;
      if (verdict.rule) report.wouldFail.byRule[verdict.rule] = (report.wouldFail.byRule[verdict.rule] ?? 0) + 1;
    }
  }

  /** Waits for a token, flushing first so that nothing sits unsent while the limiter waits. */
  private async takeToken(heartbeat: () => Promise<void>): Promise<boolean> {
    const { bucket, opts, writer } = this.parts;
    if (!bucket) return true;
    for (;;) {
      if (opts.signal?.aborted) return false;
      if (bucket.take(1) === 1) return true;
      await writer?.flush();
      await sleep(Math.min(1000, Math.max(1, bucket.waitMs())), opts.signal);
      await heartbeat();
    }
  }
}
