import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { withRetry } from '../../src/core/retry.ts';
import { objectKeyPrefix, parseObjectKey } from './layout.ts';
import { s3RetryOptions, type S3SinkRuntime, type S3Target, targetOf } from './runtime.ts';
import { s3Log } from './s3Log.ts';

/**
 * Alignment with the objects already in the lake. Before a partition's first batch in an hour
 * directory opens, the directory is listed: existing start offsets become forced batch
 * boundaries, so a replay's batches line up with (and overwrite) what is there. When the replay
 * starts inside an existing object, its `sluice-last-offset` metadata says which records are
 * durable already.
 */

/** What a listing found for one topic-partition in one directory. */
export interface DirectoryListing {
  /** Start offsets of the partition's objects there. */
  starts: Set<bigint>;
  /** Records up to this offset are inside an existing object the replay starts in. */
  skipThrough?: bigint;
}

/** Which directory to list, and whether the replay may start inside an object there. */
export interface ListingRequest {
  topic: string;
  partition: number;
  dir: string;
  /** The first record that waits for this listing. */
  firstOffset: bigint;
  /** After connect or a re-delivery: look for an object the replay starts inside. */
  recovering: boolean;
}

/**
 * Lists directories with retries, keeping the listings in flight (a flush waits for them).
 *
 * @example listings.start(request, (found) => place(found), (err) => failWaiting(err));
 */
export class DirectoryListings {
  readonly inFlight = new Set<Promise<void>>();
  private readonly rt: S3SinkRuntime;

  constructor(rt: S3SinkRuntime) {
    this.rt = rt;
  }

  /** Lists `req.dir`, then calls `onListed` with what it found, or `onFailed` after the last retry. */
  start(req: ListingRequest, onListed: (found: DirectoryListing) => void, onFailed: (err: unknown) => void): void {
    const { rt } = this;
    const onRetry = (err: unknown, attempt: number) => {
      rt.stats.retries++;
      s3Log.warn({ connector: rt.name, dir: req.dir, attempt, err: String(err) }, 'listing failed; retrying');
    };
    const p = withRetry(() => listDirectory(targetOf(rt), req), s3RetryOptions(rt, onRetry))
      .then(onListed, onFailed)
      .catch((err: unknown) => {
        s3Log.error({ connector: rt.name, err: String(err) }, 'placing records after a listing failed');
      });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}

/** One listing of a directory (no retries). */
export async function listDirectory(target: S3Target, req: ListingRequest): Promise<DirectoryListing> {
  const starts = await listStarts(target, objectKeyPrefix(req.dir, req.topic, req.partition));
  // The replay may start inside an object written before the commit (a record routed
  // elsewhere, e.g. a DLQ, held the commit back): its records are durable already.
  const skipThrough = req.recovering ? await durableThrough(target, starts, req.firstOffset) : undefined;
  return { starts: new Set(starts.keys()), skipThrough };
}

/** Start offset → key of every lake object under `prefix`. */
async function listStarts(target: S3Target, prefix: string): Promise<Map<bigint, string>> {
  const starts = new Map<bigint, string>();
  let token: string | undefined;
  do {
    const res = await target.client.send(
      new ListObjectsV2Command({ Bucket: target.bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const obj of res.Contents ?? []) {
      const parsed = obj.Key ? parseObjectKey(obj.Key) : undefined;
      if (parsed) starts.set(parsed.startOffset, obj.Key!);
    }
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  return starts;
}

/** The last offset of the object that holds `offset` (the last one starting before it), if any does. */
async function durableThrough(
  target: S3Target,
  starts: Map<bigint, string>,
  offset: bigint,
): Promise<bigint | undefined> {
  let before: bigint | undefined;
  for (const s of starts.keys()) if (s < offset && (before === undefined || s > before)) before = s;
  if (before === undefined) return undefined;
  const head = await target.client.send(new HeadObjectCommand({ Bucket: target.bucket, Key: starts.get(before)! }));
  const last = head.Metadata?.['sluice-last-offset'];
  if (last !== undefined && /^\d+$/.test(last) && BigInt(last) >= offset) return BigInt(last);
  return undefined;
}
