import type { S3Client } from '@aws-sdk/client-s3';
import type { RetryOptions } from '../../src/core/retry.ts';
import type { SinkContext } from '../../src/topology/types.ts';
import type { S3SinkConfig } from './config.ts';
import { emptyS3SinkStats, type S3SinkStats } from './sinkStats.ts';

/** The bucket a connector writes to, and the client it reaches it with. */
export interface S3Target {
  client: S3Client;
  bucket: string;
}

/** What the parts of one connector share: its config, counters, target, and shutdown state. */
export interface S3SinkRuntime {
  readonly cfg: S3SinkConfig;
  readonly ctx: SinkContext;
  /** Connector name in logs, metrics and dead letters. */
  readonly name: string;
  readonly stats: S3SinkStats;
  /** Set by `connect()`; nothing touches S3 before. */
  target?: S3Target;
  /** Epoch ms `connect()` reached the bucket: a multipart upload begun before is a predecessor's. */
  connectedAt: number;
  /** The close deadline passed: uploads were aborted, their records stay uncommitted. */
  abandoned: boolean;
  /** Aborted with `abandoned`, so no retry sleeps past the close deadline. */
  readonly stopRetries: AbortController;
}

/** A new connector's runtime, not yet connected. */
export function createRuntime(cfg: S3SinkConfig, ctx: SinkContext): S3SinkRuntime {
  return {
    cfg,
    ctx,
    name: cfg.name || `s3-${cfg.zone}`,
    stats: emptyS3SinkStats(),
    connectedAt: 0,
    abandoned: false,
    stopRetries: new AbortController(),
  };
}

/** The target of a connected runtime (callers run only after `connect()`). */
export function targetOf(rt: S3SinkRuntime): S3Target {
  return rt.target!;
}

/** Retries of one S3 request (listing, upload): `maxRetries`, stopped by the close deadline. */
export function s3RetryOptions(
  rt: S3SinkRuntime,
  onRetry: RetryOptions['onRetry'],
  retriable?: RetryOptions['retriable'],
): RetryOptions {
  return {
    retries: rt.cfg.maxRetries,
    initialMs: 250,
    maxMs: 10_000,
    signal: rt.stopRetries.signal,
    ...(retriable ? { retriable } : {}),
    onRetry,
  };
}
