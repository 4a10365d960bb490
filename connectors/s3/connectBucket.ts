import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { type Config, loadConfig } from '../../src/config/config.ts';
import { SluiceError } from '../../src/core/errors.ts';
import { withRetry } from '../../src/core/retry.ts';
import { createS3Client } from '../../src/s3/s3Client.ts';
import type { S3SinkRuntime } from './runtime.ts';
import { sweepStaleUploads } from './staleUploads.ts';

/** Injected dependencies (tests, benchmarks); by default everything comes from the Sluice config. */
export interface S3SinkDeps {
  /** A client to use (not destroyed at close). */
  client?: S3Client;
  /** The Sluice configuration (default: `loadConfig()` at connect). */
  config?: Config;
}

/**
 * Resolves the bucket and the client (injected, or made from the Sluice config) and sets them as
 * the runtime's target. Returns whether the connector made the client, and so must destroy it.
 */
export function attachTarget(rt: S3SinkRuntime, deps: S3SinkDeps): boolean {
  const sluice = deps.config ?? rt.ctx.config ?? loadConfig();
  const bucket = rt.cfg.bucket || sluice.s3Bucket;
  if (deps.client) {
    rt.target = { client: deps.client, bucket };
    return false;
  }
  rt.target = { client: createS3Client(sluice), bucket };
  return true;
}

/**
 * Checks that the bucket is reachable (S3_REQUEST_FAILED otherwise), notes the connect time and
 * sweeps stale multipart uploads.
 *
 * @example attachTarget(rt, deps); await openBucket(rt);
 */
export async function openBucket(rt: S3SinkRuntime): Promise<void> {
  const { client, bucket } = rt.target!;
  try {
    await withRetry(() => client.send(new HeadBucketCommand({ Bucket: bucket })), {
      retries: 3,
      initialMs: 250,
      maxMs: 2000,
    });
  } catch (err) {
    throw new SluiceError(
      'S3_REQUEST_FAILED',
      `${rt.name}: bucket ${bucket} is not reachable: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  rt.connectedAt = Date.now();
  await sweepStaleUploads(rt);
}
