import type { Upload } from '@aws-sdk/lib-storage';
import { asSluiceError } from '../../src/core/errors.ts';
import { withRetry } from '../../src/core/retry.ts';
import { avroContainerHeader } from './avroContainer.ts';
import { type Batch, objectMetadata } from './batch.ts';
import { uploadObject } from './objectUpload.ts';
import type { RecordEncoder } from './recordEncoder.ts';
import type { RollReason } from './rollRules.ts';
import { s3RetryOptions, type S3SinkRuntime, targetOf } from './runtime.ts';
import { s3Log } from './s3Log.ts';
import { countObjectWritten } from './sinkStats.ts';
import { UploadQueue } from './uploadQueue.ts';

/**
 * Makes closed batches durable: one upload per batch through the upload queue, retried under the
 * same name, and only once `upload.done()` resolves are the batch's acks released
 * (commit-after-durable). After the last retry the acks fail, so the runner stops uncommitted.
 *
 * @example uploads.start(batch, 'records'); await Promise.allSettled([...uploads.inFlight]);
 */
export class BatchUploads {
  /** Uploads not yet settled (queued, running or retrying). */
  readonly inFlight = new Set<Promise<void>>();
  /** Multipart uploads running now: aborted at the close deadline. */
  readonly active = new Set<Upload>();
  private readonly queue: UploadQueue;
  private readonly rt: S3SinkRuntime;
  private readonly encoder: RecordEncoder;

  constructor(rt: S3SinkRuntime, encoder: RecordEncoder) {
    this.rt = rt;
    this.encoder = encoder;
    this.queue = new UploadQueue(rt.cfg.maxConcurrentUploads);
  }

  /** Queues the upload of a closed batch. */
  start(b: Batch, reason: RollReason): void {
    const closedAt = process.hrtime.bigint();
    const p = this.queue.run(b.key, () => this.land(b, reason, closedAt));
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async land(b: Batch, reason: RollReason, closedAt: bigint): Promise<void> {
    const { rt } = this;
    rt.stats.uploadsInFlight++;
    try {
      const onRetry = (err: unknown, attempt: number) => {
        rt.stats.retries++;
        s3Log.warn(
          { connector: rt.name, key: b.key, attempt, err: String(err) },
          'upload failed; retrying (same name)',
        );
      };
      const header = this.header(b);
      const opts = { cfg: rt.cfg, topology: rt.ctx.topology, active: this.active };
      const bytes = await withRetry(
        () => uploadObject(targetOf(rt), b, header, opts),
        s3RetryOptions(rt, onRetry, () => !rt.abandoned),
      );
      const seconds = Number(process.hrtime.bigint() - closedAt) / 1e9;
      countObjectWritten(rt.stats, { bytes, records: b.records, seconds });
      s3Log.debug({ connector: rt.name, key: b.key, records: b.records, bytes, reason, seconds }, 'object written');
      for (const a of b.acks) a.release();
    } catch (err) {
      this.giveUp(b, err);
    } finally {
      rt.stats.uploadsInFlight--;
      b.body.release();
    }
  }

  private giveUp(b: Batch, err: unknown): void {
    if (this.rt.abandoned) return; // shutdown deadline: the records stay uncommitted and are re-delivered
    this.rt.stats.failures++;
    const e = asSluiceError(err, 'S3_REQUEST_FAILED', {
      coordinates: { topic: b.topic, partition: b.partition, offset: b.startOffset.toString() },
      details: { key: b.key },
    });
    s3Log.error({ connector: this.rt.name, err: e.toJSON() }, 'upload failed for good; records not committed');
    for (const a of b.acks) a.fail(e);
  }

  /** The Avro container header (jsonl.gz objects have none; a Parquet body carries its own footer). */
  private header(b: Batch): Buffer | undefined {
    const { cfg, ctx } = this.rt;
    if (cfg.format !== 'avro') return undefined;
    const metadata = objectMetadata(b, cfg.zone, ctx.schemaIds.get(b.schema));
    return avroContainerHeader(this.encoder.writerJson(b.schema), cfg.avroCodec, metadata, b.sync);
  }
}
