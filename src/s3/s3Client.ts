import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/config.ts';
import { secretOf } from '../config/config.ts';

/**
 * S3 client for AWS or an S3-compatible server. Static keys when configured (local servers),
 * otherwise the standard AWS credential chain. Checksums only when required: emulators reject
 * the SDK's default flexible checksums.
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
  });
}
