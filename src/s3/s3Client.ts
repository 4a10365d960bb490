import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/config.ts';
import { secretOf } from '../config/config.ts';

/** Time to open a connection. */
const S3_CONNECT_TIMEOUT_MS = 5_000;
/** Time a request may go without any bytes moving on its socket (not the whole transfer). */
const S3_IDLE_SOCKET_TIMEOUT_MS = 30_000;

/**
 * S3 client for AWS or an S3-compatible server. Static keys when configured (local servers),
 * otherwise the standard AWS credential chain. Checksums only when required: emulators reject
 * the SDK's default flexible checksums.
 *
 * The SDK's HTTP handler waits forever by default: a connection the server never answers (a
 * dropped keep-alive socket, a stalled server) would leave an upload or a listing pending, and
 * with it the commit of every record behind it. Bounded waits turn that into an error, which the
 * sinks retry under the same object name.
 *
 * @example
 *   await createS3Client(cfg).send(new HeadBucketCommand({ Bucket: cfg.s3Bucket }));
 */
export function createS3Client(cfg: Config): S3Client {
  const secret = secretOf(cfg, 's3SecretAccessKey');
  return new S3Client({
    region: cfg.s3Region,
    endpoint: cfg.s3Endpoint || undefined,
    forcePathStyle: cfg.s3ForcePathStyle,
    credentials: cfg.s3AccessKeyId && secret ? { accessKeyId: cfg.s3AccessKeyId, secretAccessKey: secret } : undefined,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: S3_CONNECT_TIMEOUT_MS, requestTimeout: S3_IDLE_SOCKET_TIMEOUT_MS },
  });
}
