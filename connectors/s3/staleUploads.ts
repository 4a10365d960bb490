import { AbortMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { withRetry } from '../../src/core/retry.ts';
import { type S3SinkRuntime, s3RetryOptions } from './runtime.ts';
import { s3Log } from './s3Log.ts';

/** Clock skew tolerated between S3 and us when deciding an upload began before this connector. */
const STALE_MARGIN_MS = 1000;

/**
 * Incomplete multipart uploads hold storage until aborted. lib-storage aborts its own on failure,
 * but a killed process leaves them behind: connect sweeps the zone's old ones, and the first
 * record of each partition sweeps that partition's uploads begun before this connector started.
 */

/** Aborts the incomplete multipart uploads under `prefix` that `shouldAbort` picks; returns how many. */
export async function abortUploads(
  rt: S3SinkRuntime,
  prefix: string,
  shouldAbort: (key: string, initiated: number) => boolean,
): Promise<number> {
  const { client, bucket } = rt.target!;
  let aborted = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const res = await client.send(
      new ListMultipartUploadsCommand({
        Bucket: bucket,
        Prefix: prefix,
        KeyMarker: keyMarker,
        UploadIdMarker: uploadIdMarker,
      }),
    );
    for (const u of res.Uploads ?? []) {
      if (!u.Key || !u.UploadId || !shouldAbort(u.Key, u.Initiated?.getTime() ?? 0)) continue;
      try {
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
        aborted++;
      } catch (err) {
        // Already gone (aborted by a retry of this sweep, or completed meanwhile) is the goal reached.
        if ((err as { name?: string }).name !== 'NoSuchUpload') throw err;
      }
    }
    if (!res.IsTruncated) break;
    keyMarker = res.NextKeyMarker;
    uploadIdMarker = res.NextUploadIdMarker;
  }
  rt.stats.staleUploadsAborted += aborted;
  return aborted;
}

/** At connect: the zone's uploads begun longer than `staleUploadAgeMs` ago (0: none). Never throws. */
export async function sweepStaleUploads(rt: S3SinkRuntime): Promise<void> {
  if (rt.cfg.staleUploadAgeMs <= 0) return;
  const before = rt.connectedAt - rt.cfg.staleUploadAgeMs;
  const n = await abortUploads(rt, `${rt.cfg.zone}/`, (_key, initiated) => initiated < before).catch((err) => {
    s3Log.warn({ connector: rt.name, err: String(err) }, 'could not sweep stale uploads');
    return 0;
  });
  if (n) s3Log.info({ connector: rt.name, aborted: n }, 'aborted stale incomplete uploads');
}

/** A killed predecessor's incomplete uploads of this partition (begun before we connected). Never throws. */
export async function sweepPartitionUploads(rt: S3SinkRuntime, topic: string, partition: number): Promise<void> {
  const marker = `/${topic}+${partition}+`;
  const before = rt.connectedAt - STALE_MARGIN_MS;
  try {
    // Done once per partition and run: a listing that fails once (a server busy with the new run's
    // uploads) would leave the old uploads for good, so it is retried like any other request.
    const n = await withRetry(
      () =>
        abortUploads(rt, `${rt.cfg.zone}/${topic}/`, (key, initiated) => key.includes(marker) && initiated < before),
      s3RetryOptions(rt, (err, attempt) =>
        s3Log.info({ connector: rt.name, topic, partition, attempt, err: String(err) }, 'retrying the upload sweep'),
      ),
    );
    if (n)
      s3Log.info({ connector: rt.name, topic, partition, aborted: n }, 'aborted incomplete uploads of a previous run');
  } catch (err) {
    s3Log.warn({ connector: rt.name, topic, partition, err: String(err) }, 'could not sweep incomplete uploads');
  }
}
