import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import avro from 'avsc';
import { parseObjectKey } from '../../connectors/s3/layout.ts';
import { forSchema } from '../../src/serde/logicalTypes.ts';

/** One lake object as a reader sees it: its records and its metadata (container header and S3). */
export interface LakeObject {
  key: string;
  /** Decoded values; Avro records are plain objects. */
  records: unknown[];
  meta: Record<string, string>;
}

/**
 * Keys under a prefix that follow the lake layout. The local S3 server (S3Proxy's filesystem
 * backend) writes an object to `<key>-<uuid>` beside its key and lists that name until it renames
 * it, so a reader listing while the sink uploads would otherwise see names that vanish.
 */
export async function listLakeKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of res.Contents ?? []) if (o.Key && parseObjectKey(o.Key)) keys.push(o.Key);
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** Records and header metadata of an Avro object container. */
export async function decodeContainer(
  body: Buffer,
): Promise<{ records: Record<string, unknown>[]; meta: Record<string, string> }> {
  const records: Record<string, unknown>[] = [];
  const meta: Record<string, string> = {};
  await new Promise<void>((resolve, reject) => {
    Readable.from([body])
      .pipe(new avro.streams.BlockDecoder({ parseHook: (schema: avro.Schema) => forSchema(schema) }))
      .on('metadata', (_type: unknown, _codec: unknown, header: { meta: Record<string, Buffer> }) => {
        for (const [k, v] of Object.entries(header.meta)) meta[k] = v.toString('utf8');
      })
      .on('data', (r: Record<string, unknown>) => records.push(r))
      .on('end', resolve)
      .on('error', reject);
  });
  return { records, meta };
}

/** A lake object downloaded and decoded (Avro container or gzipped JSON lines). */
export async function readLakeObject(s3: S3Client, bucket: string, key: string): Promise<LakeObject> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = Buffer.from(await res.Body!.transformToByteArray());
  if (key.endsWith('.jsonl.gz')) {
    const records = gunzipSync(body)
      .toString('utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { key, records, meta: res.Metadata ?? {} };
  }
  const { records, meta } = await decodeContainer(body);
  return { key, records, meta: { ...meta, ...res.Metadata } };
}

/** Every object under a prefix that follows the lake layout, downloaded and decoded. */
export async function readLake(s3: S3Client, bucket: string, prefix: string): Promise<LakeObject[]> {
  const out: LakeObject[] = [];
  for (const key of await listLakeKeys(s3, bucket, prefix)) out.push(await readLakeObject(s3, bucket, key));
  return out;
}
