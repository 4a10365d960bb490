import type { Pgoutput } from 'pg-logical-replication';
import { SluiceError } from '../../../src/core/errors.ts';
import { createLogger } from '../../../src/core/log.ts';
import type { CdcConnection } from './cdcConnection.ts';
import type { CdcMetrics } from './cdcMetrics.ts';
import { byTopic, type ChangeRecord, changeRecords, requestsOf, type TableTarget } from './changeRecords.ts';
import { formatLsn, parseLsn } from './lsn.ts';
import type { CdcOp } from './rowImage.ts';
import { ReplicationStream } from './replicationStream.ts';

const log = createLogger('cdc.postgres');

/** A queued change record, or the end of a transaction (its commit's end LSN). */
type Item = { record: ChangeRecord } | { commitEnd: bigint; commitTimeMs: number };

/** What a change stream needs. */
export interface ChangeStreamOptions {
  conn: CdcConnection;
  /** Published tables by name; changes of other relations are ignored. */
  targets: ReadonlyMap<string, TableTarget>;
  metrics: CdcMetrics;
  batchRecords: number;
  statusIntervalMs: number;
}

/**
 * The streaming phase: pgoutput changes in commit order become records (proto v1 sends a
 * transaction only once it has committed, so records go out as they arrive), produced in rounds
 * of at most `batchRecords`, one round at a time, so per-key order holds. The slot's confirmed
 * LSN moves to a transaction's commit end only after Kafka acknowledged every record of it and
 * of all before it: a crash re-reads from there (duplicates only after the confirmed LSN, never a
 * gap). When nothing is open or waiting, a keepalive's WAL end is confirmed too, so WAL written
 * by other databases or unpublished tables is not held.
 */
export class ChangeStream {
  /** The confirmed flush LSN last sent to the server. */
  confirmed: bigint;
  private readonly opts: ChangeStreamOptions;
  private stream?: ReplicationStream;
  private queue: Item[] = [];
  private queuedRecords = 0;
  private tx?: { lsn: bigint; seq: number };
  private publishing?: Promise<void>;
  private paused = false;
  private stopping = false;
  private timer?: NodeJS.Timeout;
  private settle!: (err?: unknown) => void;
  /** Settles when the stream ends: resolves on `stop`, rejects with the failure that ended it. */
  readonly done: Promise<void>;

  constructor(opts: ChangeStreamOptions, confirmed: bigint) {
    this.opts = opts;
    this.confirmed = confirmed;
    this.done = new Promise<void>((resolve, reject) => {
      let settled = false;
      this.settle = (err) => {
        if (settled) return;
        settled = true;
        if (err === undefined) resolve();
        else reject(err);
      };
    });
    this.done.catch(() => {}); // observed by the owner
  }

  /** Streams `slot` from the confirmed LSN; resolves once the server streams. */
  async start(slot: string, publication: string): Promise<void> {
    const stream = new ReplicationStream(this.opts.conn.pgConfig('sluice-cdc-stream'));
    this.stream = stream;
    stream.done.then(
      () =>
        this.stopping ? this.settle() : this.fail(new SluiceError('CDC_STREAM_FAILED', 'the server ended the stream')),
      (err) => this.fail(err),
    );
    await stream.start(slot, publication, this.confirmed, {
      onMessage: (msg) => this.onMessage(msg),
      onKeepalive: (walEnd, reply) => this.onKeepalive(walEnd, reply),
    });
    this.timer = setInterval(() => this.stream?.sendStatus(this.confirmed), this.opts.statusIntervalMs);
    this.timer.unref();
  }

  private onMessage(msg: Pgoutput.Message): void {
    if (this.stopping) return;
    try {
      if (msg.tag === 'begin') this.tx = { lsn: parseLsn(msg.commitLsn!), seq: 0 };
      else if (msg.tag === 'insert') this.change(msg.relation, 'c', msg.new);
      else if (msg.tag === 'update') this.change(msg.relation, 'u', msg.new);
      else if (msg.tag === 'delete') this.change(msg.relation, 'd', msg.old ?? msg.key);
      else if (msg.tag === 'commit') {
        this.tx = undefined;
        const commitTimeMs = Number(BigInt(msg.commitTime as bigint) / 1000n);
        this.queue.push({ commitEnd: parseLsn(msg.commitEndLsn!), commitTimeMs });
        this.pump();
      }
      // relation, type and origin need nothing here; truncate is not published.
    } catch (err) {
      this.fail(err);
    }
  }

  private change(relation: Pgoutput.MessageRelation, op: CdcOp, tuple: Record<string, unknown> | null): void {
    const target = relation.schema === 'public' ? this.opts.targets.get(relation.name) : undefined;
    if (!target || !this.tx) return;
    // REPLICA IDENTITY FULL gives a delete its whole old row; without it rowImage refuses the key-only image.
    for (const record of changeRecords(this.opts.conn.serde!, target, op, tuple ?? {}, this.tx)) {
      this.queue.push({ record });
      this.queuedRecords++;
    }
    this.tx.seq++;
    if (!this.paused && this.queuedRecords >= 2 * this.opts.batchRecords) {
      this.paused = true;
      this.stream?.pause();
    }
    this.pump();
  }

  private onKeepalive(walEnd: bigint, replyRequested: boolean): void {
    // Nothing open or waiting: every transaction before walEnd is acknowledged (or had no changes).
    const idle = !this.tx && !this.queue.length && !this.publishing;
    if (idle && walEnd > this.confirmed) {
      this.confirmed = walEnd;
      this.opts.metrics.lagSeconds.set(0);
      this.opts.metrics.confirmedLsn.set(Number(walEnd));
      this.stream?.sendStatus(walEnd);
    } else if (replyRequested) this.stream?.sendStatus(this.confirmed);
  }

  /** Takes the next round off the queue: up to batchRecords records and the commits among them. */
  private nextRound(): { records: ChangeRecord[]; commit?: Extract<Item, { commitEnd: bigint }> } {
    const records: ChangeRecord[] = [];
    let commit: Extract<Item, { commitEnd: bigint }> | undefined;
    let n = 0;
    while (n < this.queue.length) {
      const item = this.queue[n];
      if ('record' in item) {
        if (records.length >= this.opts.batchRecords) break;
        records.push(item.record);
      } else commit = item;
      n++;
    }
    this.queue.splice(0, n);
    this.queuedRecords -= records.length;
    return { records, commit };
  }

  private pump(): void {
    if (this.publishing || this.stopping || !this.queue.length) return;
    const round = this.nextRound();
    this.publishing = this.publish(round.records).then(
      () => {
        this.publishing = undefined;
        this.acknowledged(round.records, round.commit);
        if (this.paused && this.queuedRecords < this.opts.batchRecords) {
          this.paused = false;
          this.stream?.resume();
        }
        this.pump();
      },
      (err) => this.fail(err),
    );
  }

  private async publish(records: ChangeRecord[]): Promise<void> {
    for (const request of requestsOf(records)) await this.opts.conn.produce(byTopic(request));
  }

  private acknowledged(records: ChangeRecord[], commit: Extract<Item, { commitEnd: bigint }> | undefined): void {
    const { metrics } = this.opts;
    for (const r of records) metrics.event(r.table, r.op);
    if (!commit) return;
    // Only now may the slot move: every record of this and earlier transactions is acknowledged.
    this.confirmed = commit.commitEnd;
    this.stream?.sendStatus(commit.commitEnd);
    metrics.transactions.inc();
    metrics.confirmedLsn.set(Number(commit.commitEnd));
    metrics.lagSeconds.set(Math.max(0, (Date.now() - commit.commitTimeMs) / 1000));
  }

  private fail(err: unknown): void {
    if (this.stopping) return;
    this.stopping = true;
    log.error({ err: (err as Error)?.message, confirmed: formatLsn(this.confirmed) }, 'CDC stream failed');
    this.halt().finally(() => this.settle(err));
  }

  private async halt(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.publishing?.catch(() => {});
    await this.stream?.close();
  }

  /** Stops after the round in flight is acknowledged and confirmed; the rest is re-sent next start. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      await this.halt();
      this.settle();
    }
    await this.done.catch(() => {});
  }
}
