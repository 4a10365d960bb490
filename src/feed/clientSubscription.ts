import { errorCode } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import type { FeedClient, FeedConnections } from './feedConnections.ts';
import { CursorError, decodeCursor, encodeCursor, parseTpKey } from './feedCursor.ts';
import type { FeedMetrics } from './feedMetrics.ts';
import { metricOfTopic, topicOfMetric, type LoggedUpdate } from './feedUpdate.ts';
import { replayFromKafka, type ReplayRange } from './kafkaReplay.ts';
import type { MetricsLog } from './metricsLog.ts';

/** What a subscription needs of the feed. */
export interface SubscriptionContext {
  connections: FeedConnections;
  log: MetricsLog;
  kafka: KafkaClient;
  serde: AvroSerde;
  metrics: FeedMetrics;
  /** A cursor further behind than this many records is answered with a snapshot instead. */
  maxReplayRecords: number;
  replayTimeoutMs?: number;
}

const log = createLogger('feed');

/**
 * Serves one client's subscribe: a snapshot of the metrics its cursor does not cover, the updates
 * after its cursor for those it does (from memory, else from Kafka), the live updates that
 * arrived meanwhile, then `ready`. From then on the client is live. A client that goes away or
 * cannot be served ends it early; failures the client should know of are sent to it.
 *
 * @example
 *   await subscribeClient(ctx, client, ['revenue_per_minute'], cursorFromTheRequest);
 */
export async function subscribeClient(
  ctx: SubscriptionContext,
  c: FeedClient,
  metricsWanted: string[],
  cursorText: unknown,
): Promise<void> {
  await new ClientSubscription(ctx, c, metricsWanted).run(cursorText);
}

/** One subscribe, step by step; each step returns false once the client is gone. */
class ClientSubscription {
  readonly #ctx: SubscriptionContext;
  readonly #c: FeedClient;
  readonly #wanted: Set<string>;
  #cursor: Map<string, number> | undefined;
  /** Subscribed metrics the cursor names partitions of: these resume, the others start from a snapshot. */
  readonly #covered = new Set<string>();
  /** Per partition of a covered metric: the log's position when live updates started to queue. */
  readonly #ends = new Map<string, number>();
  /** Partitions whose cursor position Kafka no longer holds, or that were too far behind. */
  readonly #reset: string[] = [];
  /** Per partition: what the client still misses, [cursor position, end). */
  readonly #ranges = new Map<string, ReplayRange>();
  #snapshot = 0;
  #replayed = 0;
  #source = 'none';

  constructor(ctx: SubscriptionContext, c: FeedClient, metricsWanted: string[]) {
    this.#ctx = ctx;
    this.#c = c;
    this.#wanted = new Set(metricsWanted);
  }

  async run(cursorText: unknown): Promise<void> {
    const { connections, log: metricsLog, metrics } = this.#ctx;
    const c = this.#c;
    if (!this.#readCursor(cursorText)) return;
    await metricsLog.ready;
    if (c.closed) return;
    const fresh = this.#join();
    this.#snapshot = await connections.sendSnapshot(c, fresh.items, fresh.cursor);
    if (c.closed) return;
    if (!(await this.#planRanges())) return;
    if (!(await this.#snapshotIfTooFarBehind())) return;
    if (!(await this.#replayFromMemory())) return;
    if (!(await this.#replayFromKafka())) return;
    if (c.closed) return;
    if (this.#cursor) metrics.resumes.inc({ source: this.#source });
    if (!(await this.#drainPending())) return;
    c.pending = undefined;
    connections.sendControl(c, {
      type: 'ready',
      metrics: [...this.#wanted],
      snapshot: this.#snapshot,
      replayed: this.#replayed,
      reset: this.#reset,
      cursor: encodeCursor(c.delivered),
    });
  }

  #readCursor(cursorText: unknown): boolean {
    if (cursorText === undefined || cursorText === null) return true;
    try {
      this.#cursor = decodeCursor(cursorText);
      return true;
    } catch (err) {
      if (!(err instanceof CursorError)) throw err;
      const message = `${err.message}; subscribe without a cursor to start from a snapshot`;
      this.#ctx.connections.fail(this.#c, 'INVALID_CURSOR', message);
      return false;
    }
  }

  /**
   * Subscribes the client and takes the snapshot of its fresh metrics. One synchronous step, so
   * the snapshot, the positions it was taken at and the start of the pending queue all agree.
   */
  #join(): { items: LoggedUpdate[]; cursor: string } {
    const { connections, log: metricsLog } = this.#ctx;
    const c = this.#c;
    c.metrics = this.#wanted;
    for (const tp of this.#cursor?.keys() ?? []) {
      const m = metricOfTopic(parseTpKey(tp).topic);
      if (m && this.#wanted.has(m)) this.#covered.add(m);
    }
    const fresh = [...this.#wanted].filter((m) => !this.#covered.has(m));
    for (const m of fresh) for (const [tp, pos] of metricsLog.positions(m)) c.delivered.set(tp, pos);
    for (const m of this.#covered) for (const [tp, pos] of metricsLog.positions(m)) this.#ends.set(tp, pos);
    for (const [tp, pos] of this.#cursor ?? [])
      if (this.#covered.has(metricOfTopic(parseTpKey(tp).topic)!)) c.delivered.set(tp, pos);
    c.pending = [];
    connections.subscribe(c, this.#wanted);
    return { items: this.#capture(fresh), cursor: encodeCursor(c.delivered) };
  }

  /** The latest result per key of these metrics, taken now (sent later). */
  #capture(metricNames: string[]): LoggedUpdate[] {
    return metricNames.flatMap((m) => this.#ctx.log.snapshot(m));
  }

  /**
   * Resume: [cursor position, log position when the queue started) per partition; the pending
   * queue holds everything from that instant on.
   */
  async #planRanges(): Promise<boolean> {
    for (const m of this.#covered) {
      const marks = await this.#ctx.log
        .watermarks(topicOfMetric(m))
        .catch(() => new Map<number, { low: number; high: number }>());
      if (this.#c.closed) return false;
      for (const [tp, to] of this.#ends) {
        if (metricOfTopic(parseTpKey(tp).topic) !== m) continue;
        this.#planRange(tp, to, marks.get(parseTpKey(tp).partition));
      }
    }
    return true;
  }

  /** A cursor position outside what Kafka holds (retention, a recreated topic) restarts at the oldest record. */
  #planRange(tp: string, to: number, wm: { low: number; high: number } | undefined): void {
    let from = this.#c.delivered.get(tp);
    if (wm && (from === undefined || from < wm.low || from > wm.high)) {
      if (from !== undefined) this.#reset.push(tp);
      from = wm.low;
    }
    if (from === undefined) return;
    this.#c.delivered.set(tp, from);
    if (from < to) this.#ranges.set(tp, { from, to });
  }

  /**
   * Too far behind to replay record by record: the latest state is what the client can use.
   * Positions and snapshot are taken in one step; queued updates before them are skipped.
   */
  async #snapshotIfTooFarBehind(): Promise<boolean> {
    const behind = [...this.#ranges.values()].reduce((n, r) => n + (r.to - r.from), 0);
    if (behind <= this.#ctx.maxReplayRecords) return true;
    const c = this.#c;
    for (const tp of this.#ranges.keys()) this.#reset.push(tp);
    this.#ranges.clear();
    for (const m of this.#covered) for (const [tp, pos] of this.#ctx.log.positions(m)) c.delivered.set(tp, pos);
    const items = this.#capture([...this.#covered]);
    this.#snapshot += await this.#ctx.connections.sendSnapshot(c, items, encodeCursor(c.delivered));
    return !c.closed;
  }

  async #replayFromMemory(): Promise<boolean> {
    const { connections, log: metricsLog } = this.#ctx;
    for (const [tp, r] of [...this.#ranges]) {
      const items = metricsLog.fromMemory(tp, r.from, r.to);
      if (!items) continue;
      this.#ranges.delete(tp);
      this.#source = 'memory';
      for (const u of items) {
        if (!(await connections.roomFor(this.#c))) return false;
        connections.deliver(this.#c, u);
        this.#replayed++;
      }
    }
    return true;
  }

  /** What memory no longer holds, read back from Kafka; a failure is the client's to retry. */
  async #replayFromKafka(): Promise<boolean> {
    if (!this.#ranges.size) return true;
    const { connections, kafka, serde, replayTimeoutMs, metrics } = this.#ctx;
    const c = this.#c;
    this.#source = 'kafka';
    try {
      this.#replayed += await replayFromKafka({
        kafka,
        serde,
        ranges: this.#ranges,
        signal: c.abort.signal,
        timeoutMs: replayTimeoutMs,
        onUpdate: (u) => connections.deliver(c, u),
        afterBatch: async () => {
          await connections.roomFor(c);
        },
      });
      return true;
    } catch (err) {
      if (c.closed) return false;
      log.warn(
        { code: errorCode('FEED_REPLAY_FAILED'), err: (err as Error).message },
        'cannot replay from Kafka for a resuming client',
      );
      metrics.clientsDropped.inc({ reason: 'replay_failed' });
      const message = 'the updates after your cursor cannot be read now; reconnect with the same cursor later';
      connections.fail(c, 'REPLAY_FAILED', message, 1011);
      return false;
    }
  }

  /** Live updates that arrived meanwhile, in arrival order; more may queue while this drains. */
  async #drainPending(): Promise<boolean> {
    const { connections } = this.#ctx;
    const c = this.#c;
    while (c.pending?.length) {
      const queued = c.pending;
      c.pending = [];
      for (const u of queued) {
        if (!(await connections.roomFor(c))) return false;
        connections.deliver(c, u);
      }
    }
    return true;
  }
}
