import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CreateBucketCommand, ListBucketsCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../s3/s3Client.ts';
import { javaBinary, s3proxyJar } from '../artifacts.ts';
import { spawnDaemon } from '../processes.ts';
import type { StackService } from '../service.ts';
import { ensureStackSecret } from '../secrets.ts';

/** S3Proxy with the filesystem backend. Requests are signed (aws-v2-or-v4) with a generated secret. */
export const s3Service: StackService = {
  name: 's3',
  port: (cfg) => cfg.s3Port,
  startTimeoutMs: 60_000,
  async start(cfg, paths) {
    const java = javaBinary();
    const jar = s3proxyJar(cfg.cacheDir);
    const data = path.join(paths.dir, 'data');
    mkdirSync(data, { recursive: true });
    const secret = ensureStackSecret(cfg.stackDir, 's3-secret');
    const conf = path.join(paths.dir, 's3proxy.conf');
    writeFileSync(
      conf,
      [
        `s3proxy.endpoint=http://127.0.0.1:${cfg.s3Port}`,
        's3proxy.authorization=aws-v2-or-v4',
        `s3proxy.identity=${cfg.s3AccessKeyId}`,
        `s3proxy.credential=${secret}`,
        'jclouds.provider=filesystem',
        `jclouds.filesystem.basedir=${data}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    return spawnDaemon(java, ['-Xms64m', '-Xmx384m', '-Djava.awt.headless=true', '-jar', jar, '--properties', conf], {
      logFile: paths.logFile,
      pidFile: paths.pidFile,
      cwd: paths.dir,
    });
  },
  async healthy(cfg) {
    const s3 = createS3Client(cfg);
    try {
      const res = await s3.send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(2000) });
      if (!res.Buckets?.some((b) => b.Name === cfg.s3Bucket))
        await s3.send(new CreateBucketCommand({ Bucket: cfg.s3Bucket }));
      return true;
    } finally {
      s3.destroy();
    }
  },
};
