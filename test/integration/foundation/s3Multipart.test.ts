import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createS3Client } from '../../../src/s3/s3Client.ts';
import { realStack, uniqueName } from '../../support/stack.ts';

test('a 12 MB object goes through a multipart Upload and reads back byte for byte', async () => {
  const cfg = await realStack();
  const s3 = createS3Client(cfg);
  const key = `it/${uniqueName('multipart')}.bin`;
  const body = randomBytes(12 * 1024 * 1024);
  const parts: number[] = [];
  const upload = new Upload({
    client: s3,
    params: { Bucket: cfg.s3Bucket, Key: key, Body: body },
    partSize: 5 * 1024 * 1024,
    queueSize: 2,
    leavePartsOnError: false,
  });
  upload.on('httpUploadProgress', (p) => {
    if (p.part) parts.push(p.part);
  });
  await upload.done();
  assert.ok(new Set(parts).size >= 3, `expected ≥3 parts, saw ${[...new Set(parts)]}`);

  const head = await s3.send(new HeadObjectCommand({ Bucket: cfg.s3Bucket, Key: key }));
  assert.equal(head.ContentLength, body.length);
  assert.match(head.ETag ?? '', /-3"?$/, 'multipart ETag names 3 parts');
  const got = Buffer.from(
    await (await s3.send(new GetObjectCommand({ Bucket: cfg.s3Bucket, Key: key }))).Body!.transformToByteArray(),
  );
  assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(body).digest('hex'));
  await s3.send(new DeleteObjectCommand({ Bucket: cfg.s3Bucket, Key: key }));
  s3.destroy();
});

test('requests signed with a wrong secret are refused (the S3 server checks signatures)', async () => {
  const cfg = await realStack();
  const s3 = createS3Client({ ...cfg, s3SecretAccessKey: 'not-the-secret' });
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: cfg.s3Bucket, Key: 'anything' })));
  s3.destroy();
});
