import { errorCode, SluiceError } from '../../src/core/errors.ts';
import type { Output } from '../../src/topology/types.ts';
import { type Batch, objectMetadata, openBatch } from './batch.ts';
import type { BatchUploads } from './batchUploads.ts';
import type { DirectoryListing, DirectoryListings } from './directoryListing.ts';
import { partitionDir } from './layout.ts';
import {
  knownStarts,
  newPartitionState,
  type PartitionState,
  rememberStart,
  resetForRedelivery,
} from './partitionState.ts';
import type { RecordEncoder } from './recordEncoder.ts';
import { failOutput, refuseRecord } from './refuseRecord.ts';
import { eventTimeBucket, type RollReason, rollAfter, rollBefore } from './rollRules.ts';
import type { S3SinkRuntime } from './runtime.ts';
import { s3Log } from './s3Log.ts';
import { sweepPartitionUploads } from './staleUploads.ts';

/**
 * Places each record into its source partition's open batch and closes batches by the roll rules
 * (see rollRules.ts), handing closed ones to the uploads. A partition's first batch in an hour
 * directory waits for the listing of that directory (its records queue meanwhile), so batches
 * align with objects already there.
 *
 * @example batches.add(output); await batches.flush();
 */
export class PartitionBatches {
  private readonly partitions = new Map<string, PartitionState>();
  private readonly rt: S3SinkRuntime;
  private readonly encoder: RecordEncoder;
  private readonly uploads: BatchUploads;
  private readonly listings: DirectoryListings;

  constructor(rt: S3SinkRuntime, encoder: RecordEncoder, uploads: BatchUploads, listings: DirectoryListings) {
    this.rt = rt;
    this.encoder = encoder;
    this.uploads = uploads;
    this.listings = listings;
  }

  /** Takes one output that carries its source record; never blocks. */
  add(o: Output): void {
    const src = o.source!;
    const st = this.state(src.topic, src.partition);
    const offset = BigInt(src.offset);
    if (st.lastOffset !== undefined && offset <= st.lastOffset) this.rewind(st, offset);
    st.lastOffset = offset;
    if (st.pending) {
      st.pending.push(o);
      return;
    }
    this.place(st, o);
  }

  /** Closes the batches no record arrived for in `idleCloseMs`. */
  closeIdle(now: number): void {
    for (const st of this.partitions.values()) {
      if (st.batch && !st.pending && now - st.batch.lastAddAt >= this.rt.cfg.idleCloseMs) this.closeBatch(st, 'idle');
    }
  }

  /**
   * Closes every open batch and waits until each is durable (or failed), records waiting for a
   * listing included. SluiceError S3_REQUEST_FAILED if a batch could not be written.
   */
  async flush(): Promise<void> {
    const failuresBefore = this.rt.stats.failures;
    for (let round = 0; round < 10; round++) {
      if (this.listings.inFlight.size) await Promise.allSettled([...this.listings.inFlight]);
      for (const st of this.partitions.values()) if (st.batch && !st.pending) this.closeBatch(st, 'flush');
      const snapshot = [...this.uploads.inFlight];
      if (snapshot.length) await Promise.allSettled(snapshot);
      if (!this.listings.inFlight.size && ![...this.partitions.values()].some((st) => st.batch || st.pending)) break;
    }
    const failed = this.rt.stats.failures - failuresBefore;
    if (failed > 0)
      throw new SluiceError('S3_REQUEST_FAILED', `${this.rt.name}: ${failed} batch(es) could not be written`);
  }

  private state(topic: string, partition: number): PartitionState {
    const k = `${topic}/${partition}`;
    let st = this.partitions.get(k);
    if (!st) {
      st = newPartitionState(topic, partition);
      this.partitions.set(k, st);
      void sweepPartitionUploads(this.rt, topic, partition);
    }
    return st;
  }

  /** Places one record: skip, roll, wait for a directory listing, or append. */
  private place(st: PartitionState, o: Output): void {
    const { cfg, stats } = this.rt;
    const src = o.source!;
    const offset = BigInt(src.offset);
    let schema: string;
    try {
      schema = this.encoder.schemaNameOf(o);
    } catch (err) {
      failOutput(o, err, 'CONFIG_INVALID');
      return;
    }
    if (this.skipDurable(st, o, offset, schema)) return;
    const bucket = eventTimeBucket(src.timestamp, cfg.rollEventTimeMs);
    if (st.batch) {
      const why = rollBefore(st.batch, { offset, bucket, schema });
      if (why) this.closeBatch(st, why);
    }
    if (!st.batch) {
      const dir = partitionDir(cfg.zone, src.topic, src.timestamp);
      if (!st.listed.has(dir)) {
        st.pending = [o];
        this.startListing(st, dir, offset);
        return;
      }
      const writer = this.encoder.writer(schema);
      st.batch = openBatch(cfg, src, { dir, bucket, schema, known: knownStarts(st, dir), writer });
      stats.openBatches++;
    }
    this.append(st, st.batch, o, schema, offset);
  }

  /** Acknowledges a record already inside an existing object; false when the record is past that object. */
  private skipDurable(st: PartitionState, o: Output, offset: bigint, schema: string): boolean {
    if (st.skipThrough === undefined) return false;
    if (offset > st.skipThrough) {
      st.skipThrough = undefined;
      return false;
    }
    // A record in the existing object's range that the object cannot hold was dead-lettered
    // by the run that wrote it; whether that dead letter became durable is unknown (it held
    // the commit back), so it is sent again rather than acknowledged as written.
    const problem = this.encoder.problemWith(o, schema);
    if (problem) {
      refuseRecord(this.rt, o, problem);
      return true;
    }
    this.rt.stats.skippedRecords++;
    for (const a of o.acks) a.release();
    return true;
  }

  private append(st: PartitionState, b: Batch, o: Output, schema: string, offset: bigint): void {
    let size: number;
    try {
      size = b.body.append(this.encoder.encoderFor(o, schema));
    } catch (err) {
      // toTopic checks values against the schema, but an operator that builds its outputs itself
      // does not. The record is left out of the batch (an empty one is dropped, so the next
      // record written opens it and names it: see refuseRecord).
      if (!b.records) {
        st.batch = undefined;
        this.rt.stats.openBatches--;
      }
      const problem = this.encoder.problemWith(o, schema);
      refuseRecord(this.rt, o, problem ?? `the value cannot be encoded (${(err as Error)?.name ?? 'error'})`, err);
      return;
    }
    b.records++;
    b.bytes += size;
    b.lastOffset = offset;
    b.lastAddAt = Date.now();
    for (const a of o.acks) b.acks.push(a);
    const full = rollAfter(b, this.rt.cfg);
    if (full) this.closeBatch(st, full);
  }

  private closeBatch(st: PartitionState, reason: RollReason): void {
    const b = st.batch;
    if (!b) return;
    st.batch = undefined;
    this.rt.stats.openBatches--;
    this.rt.stats.rolls[reason]++;
    b.body.close(objectMetadata(b, this.rt.cfg.zone, this.rt.ctx.schemaIds.get(b.schema)));
    rememberStart(st.own, b.dir, b.startOffset);
    this.uploads.start(b, reason);
  }

  private startListing(st: PartitionState, dir: string, firstOffset: bigint): void {
    const generation = st.generation;
    const request = { topic: st.topic, partition: st.partition, dir, firstOffset, recovering: st.recovering };
    this.listings.start(
      request,
      (found) => {
        if (generation !== st.generation || this.rt.abandoned) return;
        this.applyListing(st, dir, firstOffset, found);
      },
      (err) => {
        if (generation !== st.generation) return;
        this.failPending(st, dir, err);
      },
    );
  }

  private applyListing(st: PartitionState, dir: string, firstOffset: bigint, found: DirectoryListing): void {
    const set = rememberStart(st.listed, dir);
    for (const s of found.starts) set.add(s);
    st.recovering = false;
    if (found.skipThrough !== undefined) {
      st.skipThrough = found.skipThrough;
      s3Log.info(
        {
          connector: this.rt.name,
          topic: st.topic,
          partition: st.partition,
          from: firstOffset.toString(),
          through: found.skipThrough.toString(),
        },
        'replay starts inside an existing object; acknowledging its records',
      );
    }
    this.drainPending(st);
  }

  private failPending(st: PartitionState, dir: string, err: unknown): void {
    const pending = st.pending ?? [];
    st.pending = undefined;
    s3Log.error(
      { connector: this.rt.name, code: errorCode('S3_REQUEST_FAILED'), dir, err: String(err) },
      'cannot list the lake directory',
    );
    for (const o of pending) failOutput(o, err, 'S3_REQUEST_FAILED');
  }

  private drainPending(st: PartitionState): void {
    const queue = st.pending ?? [];
    st.pending = undefined;
    for (let i = 0; i < queue.length; i++) {
      // place() may have started another directory listing: the rest waits behind it.
      const waiting = st.pending as Output[] | undefined;
      if (waiting) {
        st.pending = waiting.concat(queue.slice(i));
        return;
      }
      this.place(st, queue[i]);
    }
  }

  private rewind(st: PartitionState, offset: bigint): void {
    // The runner re-fetches from the committed offset only after resetting its offset tracking,
    // so the open batch's acks count for nothing now: drop them, rebuild from the re-delivery.
    s3Log.info(
      {
        connector: this.rt.name,
        topic: st.topic,
        partition: st.partition,
        from: offset.toString(),
        dropped: st.batch?.records ?? 0,
      },
      're-delivery: open batch dropped',
    );
    this.rt.stats.rewinds++;
    if (st.batch) this.rt.stats.openBatches--;
    resetForRedelivery(st);
  }
}
