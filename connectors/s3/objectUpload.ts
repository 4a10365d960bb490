import { Readable } from 'node:stream';
import { Upload } from '@aws-sdk/lib-storage';
import type { Batch } from './batch.ts';
import type { S3Format, S3SinkConfig } from './config.ts';
import type { S3Target } from './runtime.ts';

const CONTENT_TYPES: Record<S3Format, string> = {
  avro: 'application/avro',
  'jsonl.gz': 'application/gzip',
  parquet: 'application/vnd.apache.parquet',
};

/**
 * Writes one batch as one object with `@aws-sdk/lib-storage` (multipart, memory bounded by
 * partSize × (queueSize + 1)); the body streams from the batch's blocks, after the container
 * header for Avro (a Parquet body holds its footer). The `sluice-*-offset` metadata is what a later listing aligns on.
 *
 * @returns the object's size in bytes
 * @example const bytes = await uploadObject(target, batch, header, { cfg, topology, active });
 */
export async function uploadObject(
  target: S3Target,
  b: Batch,
  header: Buffer | undefined,
  opts: { cfg: Pick<S3SinkConfig, 'format' | 'partSize' | 'queueSize'>; topology: string; active: Set<Upload> },
): Promise<number> {
  let bytes = 0;
  const counted = function* () {
    if (header) {
      bytes += header.length;
      yield header;
    }
    for (const c of b.body.blocks) {
      bytes += c.length;
      yield c;
    }
  };
  const upload = new Upload({
    client: target.client,
    params: {
      Bucket: target.bucket,
      Key: b.key,
      Body: Readable.from(counted(), { objectMode: false }),
      ContentType: CONTENT_TYPES[opts.cfg.format],
      Metadata: {
        'sluice-first-offset': b.startOffset.toString(),
        'sluice-last-offset': b.lastOffset.toString(),
        'sluice-records': String(b.records),
        'sluice-topology': opts.topology,
      },
    },
    partSize: opts.cfg.partSize,
    queueSize: opts.cfg.queueSize,
    // On failure lib-storage aborts the multipart upload: no orphaned parts.
    leavePartsOnError: false,
  });
  opts.active.add(upload);
  try {
    await upload.done();
  } finally {
    opts.active.delete(upload);
  }
  return bytes;
}
