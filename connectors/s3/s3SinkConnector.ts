import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError } from '../../src/core/errors.ts';
import type { Output, SinkConnector, SinkContext } from '../../src/topology/types.ts';
import { BatchUploads } from './batchUploads.ts';
import type { S3SinkConfig } from './config.ts';
import { attachTarget, openBucket, type S3SinkDeps } from './connectBucket.ts';
import { DirectoryListings } from './directoryListing.ts';
import { PartitionBatches } from './partitionBatches.ts';
import { RecordEncoder } from './recordEncoder.ts';
import { failOutput } from './refuseRecord.ts';
import { createRuntime, type S3SinkRuntime } from './runtime.ts';
import { s3Log } from './s3Log.ts';
import type { S3SinkStats } from './sinkStats.ts';

/** An S3 lake sink connector: the runner's `SinkConnector` plus its counters and config. */
export interface S3SinkConnector extends SinkConnector {
  readonly stats: S3SinkStats;
  readonly config: S3SinkConfig;
}

/**
 * The connector of one output for a validated config (tests and benchmarks build it directly;
 * topologies use `s3Sink`). No I/O until `connect()`.
 *
 * @example
 *   const sink = createS3SinkConnector(parseS3SinkConfig({ zone: 'raw' }), ctx, { client });
 *   await sink.connect();
 */
export function createS3SinkConnector(cfg: S3SinkConfig, ctx: SinkContext, deps: S3SinkDeps = {}): S3SinkConnector {
  return new LakeSinkConnector(createRuntime(cfg, ctx), deps);
}

/** The lifecycle (connect, add, flush, close) around the parts that do the work. */
class LakeSinkConnector implements S3SinkConnector {
  readonly name: string;
  readonly stats: S3SinkStats;
  readonly config: S3SinkConfig;
  readonly holds: { records: number; bytes: number };
  private readonly uploads: BatchUploads;
  private readonly batches: PartitionBatches;
  private connecting: Promise<void> | undefined;
  private ownsClient = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private closed = false;
  private readonly rt: S3SinkRuntime;
  private readonly deps: S3SinkDeps;

  constructor(rt: S3SinkRuntime, deps: S3SinkDeps) {
    this.rt = rt;
    this.deps = deps;
    this.name = rt.name;
    this.stats = rt.stats;
    this.config = rt.cfg;
    this.holds = { records: rt.cfg.rollRecords, bytes: rt.cfg.rollBytes };
    const encoder = new RecordEncoder(rt.cfg, rt.name, rt.ctx);
    this.uploads = new BatchUploads(rt, encoder);
    this.batches = new PartitionBatches(rt, encoder, this.uploads, new DirectoryListings(rt));
  }

  /** Resolves the bucket and sweeps stale multipart uploads; idempotent. */
  connect(): Promise<void> {
    this.connecting ??= (async () => {
      const { rt } = this;
      this.ownsClient = attachTarget(rt, this.deps);
      await openBucket(rt);
      if (rt.cfg.idleCloseMs > 0) {
        const every = Math.max(50, Math.min(1000, Math.floor(rt.cfg.idleCloseMs / 4)));
        this.idleTimer = setInterval(() => this.batches.closeIdle(Date.now()), every);
        this.idleTimer.unref();
      }
      const { topology } = rt.ctx;
      const { zone, format } = rt.cfg;
      s3Log.info({ connector: rt.name, topology, bucket: rt.target!.bucket, zone, format }, 'S3 sink connected');
    })();
    return this.connecting;
  }

  /** Encodes the record into its partition's open batch; never blocks. */
  add(o: Output): void {
    if (!this.rt.target || this.closed || this.closing) {
      const when = this.closed || this.closing ? 'after close()' : 'before connect()';
      failOutput(o, new SluiceError('INTERNAL', `${this.name}: add() ${when}`));
      return;
    }
    if (!o.source) {
      const why = `output for ${o.topic} carries no source record; the S3 sink names objects by it`;
      failOutput(o, new SluiceError('INTERNAL', `${this.name}: ${why}`));
      return;
    }
    this.batches.add(o);
  }

  flush(): Promise<void> {
    return this.batches.flush();
  }

  /** Flushes within `deadlineMs`; past it, aborts the uploads (their records stay uncommitted). */
  async close(deadlineMs: number): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    clearInterval(this.idleTimer);
    const finished = this.batches.flush().then(
      () => true,
      () => true,
    );
    const inTime = await Promise.race([finished, sleep(deadlineMs, false, { ref: false })]);
    if (!inTime) await this.abandon();
    this.closed = true;
    if (this.ownsClient) this.rt.target?.client.destroy();
  }

  private async abandon(): Promise<void> {
    const { rt, uploads } = this;
    rt.abandoned = true;
    rt.stopRetries.abort();
    s3Log.warn(
      { connector: rt.name, uploads: uploads.active.size },
      'close deadline passed; aborting uploads (their records stay uncommitted)',
    );
    await Promise.allSettled([...uploads.active].map((u) => u.abort()));
    await Promise.race([Promise.allSettled([...uploads.inFlight]), sleep(2000, undefined, { ref: false })]);
  }
}
