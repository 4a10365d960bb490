/**
 * S3 sink throughput and memory: feeds the connector directly (no Kafka) with N MB of records over
 * three partitions, as the runner would (at most `--in-flight` unacknowledged records per
 * partition), and measures from the first `add` until every ack is released (every object
 * complete). Reports MB/s of record bytes and of object bytes, and RSS while uploading.
 *
 *   node bench/s3Sink.bench.ts [--mb 100] [--record-bytes 1024] [--format avro|jsonl.gz]
 *                              [--zone raw|staging] [--in-flight 10000] [--keep]
 *   node --expose-gc bench/s3Sink.bench.ts ...   # peaks of live memory (collects before sampling)
 *
 * Needs the local stack (`sluice dev up`). Objects go to `<zone>/bench_<id>.oltp.orders/...` and
 * are deleted afterwards unless --keep.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { parseS3SinkConfig } from '../connectors/s3/config.ts';
import { createS3SinkConnector } from '../connectors/s3/s3SinkConnector.ts';
import { loadConfig } from '../src/config/config.ts';
import { loadType } from '../src/domain/schemas.ts';
import { createS3Client } from '../src/s3/s3Client.ts';
import type { Ack, Output, SourceRecord } from '../src/topology/types.ts';

const { values: args } = parseArgs({
  options: {
    mb: { type: 'string', default: '100' },
    'record-bytes': { type: 'string', default: '1024' },
    format: { type: 'string', default: 'avro' },
    zone: { type: 'string', default: 'raw' },
    'in-flight': { type: 'string', default: '10000' },
    keep: { type: 'boolean', default: false },
  },
});
const totalBytes = Number(args.mb) * 1024 * 1024;
const recordBytes = Number(args['record-bytes']);
const maxInFlight = Number(args['in-flight']);
const zone = args.zone as 'raw' | 'staging';
const PARTITIONS = 3;

const cfg = loadConfig();
const s3 = createS3Client(cfg);
const topic = `bench_${Date.now().toString(36)}.${zone === 'staging' ? 'silver.orders' : 'oltp.orders'}`;
const sinkCfg = parseS3SinkConfig({ zone, format: args.format as 'avro' | 'jsonl.gz', idleCloseMs: 0 });
const sink = createS3SinkConnector(
  sinkCfg,
  { topology: 'bench', schemaFor: loadType, schemaIds: new Map() },
  { client: s3, config: cfg },
);
await sink.connect();

// A pool of random values, so generating input costs (almost) nothing.
const pool = Array.from({ length: 256 }, () => randomBytes(recordBytes));
const order = (i: number) => ({
  order_id: i,
  customer_id: i % 5000,
  status: 'paid',
  total_amount: `${i % 100000}.${String(i % 100).padStart(2, '0')}`,
  currency: 'EUR',
  ordered_at: 1_767_000_000_000 + i,
  updated_at: 1_767_000_000_000 + i,
  op: 'c',
  extracted_at: 1_767_000_000_000 + i,
  // Pad staging rows to the record size with a long currency-like field is not possible (fixed
  // schema): staging rows stay ~80 bytes.
});

const inFlight = new Array<number>(PARTITIONS).fill(0);
let released = 0;
let failed = 0;
let waiting: (() => void) | undefined;
const ackFor = (p: number): Ack => ({
  retain() {},
  release() {
    inFlight[p]--;
    released++;
    waiting?.();
  },
  fail(err) {
    failed++;
    console.error('ack failed', err);
    inFlight[p]--;
    waiting?.();
  },
});

let peakRss = 0;
let peakExternal = 0;
const rssBefore = process.memoryUsage().rss;
// With `node --expose-gc`, collect before each sample: the peak of live memory, not of garbage.
const gc = (globalThis as { gc?: () => void }).gc;
const sampler = setInterval(() => {
  gc?.();
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakExternal = Math.max(peakExternal, m.external + m.arrayBuffers);
}, 25);

const t0 = Date.UTC(2026, 0, 9, 10);
const started = process.hrtime.bigint();
let fed = 0;
let recordBytesFed = 0;
const offsets = new Array<number>(PARTITIONS).fill(0);
for (let i = 0; recordBytesFed < totalBytes; i++) {
  const p = i % PARTITIONS;
  while (inFlight[p] >= maxInFlight)
    await new Promise<void>((r) => {
      waiting = r;
    });
  const value = pool[i & 255];
  const source: SourceRecord = {
    topic,
    partition: p,
    offset: String(offsets[p]++),
    key: Buffer.from(`o${i}`),
    value,
    headers: {},
    timestamp: t0 + Math.floor(i / 50),
  };
  inFlight[p]++;
  const o: Output =
    zone === 'staging'
      ? {
          topic: 'bench',
          key: source.key,
          value: order(i),
          schemaSubjectTopic: 'silver.orders',
          acks: [ackFor(p)],
          source,
        }
      : { topic: 'bench', key: source.key, value, raw: true, acks: [ackFor(p)], source };
  sink.add(o);
  fed++;
  recordBytesFed += zone === 'staging' ? 80 : value.length;
  if (fed % 1000 === 0) await new Promise((r) => setImmediate(r));
}
await sink.flush();
while (released + failed < fed)
  await new Promise<void>((r) => {
    waiting = r;
  });
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
clearInterval(sampler);

const st = sink.stats;
const MiB = 1024 * 1024;
console.log(
  JSON.stringify(
    {
      zone,
      format: sinkCfg.format,
      records: fed,
      recordBytes,
      failed,
      inputMiB: +(recordBytesFed / MiB).toFixed(1),
      objectMiB: +(st.bytes / MiB).toFixed(1),
      objects: st.batches,
      seconds: +seconds.toFixed(2),
      inputMiBps: +(recordBytesFed / MiB / seconds).toFixed(1),
      objectMiBps: +(st.bytes / MiB / seconds).toFixed(1),
      recordsPerSecond: Math.round(fed / seconds),
      liveMemory: Boolean(gc),
      rssBeforeMiB: Math.round(rssBefore / MiB),
      peakRssMiB: Math.round(peakRss / MiB),
      peakExternalMiB: Math.round(peakExternal / MiB),
      flushSecondsMean: +(st.flushSeconds.sum / Math.max(1, st.flushSeconds.count)).toFixed(3),
      retries: st.retries,
      config: {
        rollRecords: sinkCfg.rollRecords,
        rollBytes: sinkCfg.rollBytes,
        partSize: sinkCfg.partSize,
        queueSize: sinkCfg.queueSize,
        maxConcurrentUploads: sinkCfg.maxConcurrentUploads,
        maxInFlightPerPartition: maxInFlight,
      },
    },
    null,
    2,
  ),
);

await sink.close(10_000);
if (!args.keep) {
  let token: string | undefined;
  do {
    const res = await s3.send(
      new ListObjectsV2Command({ Bucket: cfg.s3Bucket, Prefix: `${zone}/${topic}/`, ContinuationToken: token }),
    );
    const keys = (res.Contents ?? []).map((c) => ({ Key: c.Key! }));
    if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket: cfg.s3Bucket, Delete: { Objects: keys } }));
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
}
s3.destroy();
