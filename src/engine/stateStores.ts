import type { Output, Rule, SourceRecord } from '../topology/types.ts';
import type { WatermarkTracker } from '../windows/watermarks.ts';
import type { TickKind, WindowOperator } from '../windows/windowOperator.ts';
import { createDedupeStore, type DedupeStore } from './dedupeStore.ts';

/** A state store of a running topology: what the runner creates, restores and describes. */
export interface StoreInfo {
  kind: 'window' | 'dedupe';
  store: string;
  changelog: string;
  /** The topic whose partitions are the store's partitions; absent: any source topic. */
  inputTopic?: string;
  lateTopic?: string;
  /** Extra changelog topic configuration (retention of dedupe ids). */
  config?: Record<string, string>;
}

/** A day: dedupe ids outlive their window by this much in the changelog. */
const DEDUPE_RETENTION_MARGIN_MS = 86_400_000;

/**
 * The state of one topology instance: its windows, its dedupe stores, the event-time trackers
 * its windows share per input topic, and the watermark each repartitioned upstream partition
 * has reported. Operators register here when the pipeline is built; the runner ticks, restores
 * and resets through it.
 */
export class StateStores {
  private readonly windows: WindowOperator<any>[] = [];
  private readonly dedupes = new Map<string, DedupeStore>();
  private readonly dedupeWindows = new Map<string, number>();
  private readonly trackers = new Map<string, WatermarkTracker>();
  private readonly upstreamWm = new Map<string, number>();

  private readonly topology: string;
  private readonly emit: (o: Output) => void;

  constructor(topology: string, emit: (o: Output) => void) {
    this.topology = topology;
    this.emit = emit;
  }

  addWindow(op: WindowOperator<any>): void {
    this.windows.push(op);
  }

  /** The durable store of a `unique` rule (one per rule, shared by every validate naming it). */
  dedupe(rule: Rule): DedupeStore {
    let d = this.dedupes.get(rule.name);
    if (!d) {
      const withSpec = rule as Rule & { dedupe: NonNullable<Rule['dedupe']> };
      d = createDedupeStore(this.topology, withSpec, this.emit);
      this.dedupes.set(rule.name, d);
      this.dedupeWindows.set(rule.name, withSpec.dedupe.windowMs);
    }
    return d;
  }

  /** The event-time tracker of an input topic, shared by every window reading it. */
  tracker(topic: string, create: () => WatermarkTracker): WatermarkTracker {
    let t = this.trackers.get(topic);
    if (!t) {
      t = create();
      this.trackers.set(topic, t);
    }
    return t;
  }

  /** Moves an upstream partition's watermark forward (never back) and returns it. */
  advanceUpstreamWatermark(src: string, candidate: number): number {
    const wm = Math.max(this.upstreamWm.get(src) ?? -Infinity, candidate);
    this.upstreamWm.set(src, wm);
    return wm;
  }

  /**
   * Event-time progress reported by an upstream stage (repartition headers) counts for every
   * window on the record's topic. Tracked per (partition here, upstream partition): partitions of
   * the repartition topic are consumed at different speeds, and one running ahead must not make
   * the others' records late.
   */
  observeUpstream(record: SourceRecord, now: number): void {
    const reported = record.headers['sluice.wm'];
    if (reported === undefined) return;
    const source = `${record.partition}|${record.headers['sluice.src'] ?? ''}`;
    this.trackers
      .get(record.topic)
      ?.observe(source, Number(record.headers['sluice.ts'] ?? reported), now, Number(reported));
  }

  tick(kind: TickKind): void {
    // Every tick (after each batch, before room is made, the timer): the ids a batch accepted go
    // to their changelogs, which their records' acks wait for.
    for (const d of this.dedupes.values()) d.flush();
    for (const w of this.windows) w.tick(kind);
  }

  emitDue(): void {
    for (const w of this.windows) w.emitDue();
  }

  list(): StoreInfo[] {
    return [
      ...this.windows.map(
        (w): StoreInfo => ({
          kind: 'window',
          store: w.store,
          changelog: w.changelog,
          inputTopic: w.inputTopic,
          lateTopic: w.lateTopic,
        }),
      ),
      ...[...this.dedupes.values()].map((d): StoreInfo => {
        // Ids outlive the window in the log (compaction keeps one per id meanwhile).
        const retention = this.dedupeWindows.get(d.rule)! + DEDUPE_RETENTION_MARGIN_MS;
        const config = { 'cleanup.policy': 'compact,delete', 'retention.ms': String(retention) };
        return { kind: 'dedupe', store: d.rule, changelog: d.changelog, config };
      }),
    ];
  }

  restore(changelog: string, partition: number, key: string, value: Buffer | null): void {
    for (const w of this.windows) if (w.changelog === changelog) w.restore(partition, key, value);
    for (const d of this.dedupes.values()) if (d.changelog === changelog) d.restore(partition, key, value);
  }

  reset(changelog: string): void {
    for (const w of this.windows) if (w.changelog === changelog) w.reset();
    for (const d of this.dedupes.values()) if (d.changelog === changelog) d.reset();
  }
}
