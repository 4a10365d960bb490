import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { parseS3SinkConfig, type S3SinkConfigInput } from '../../../connectors/s3/config.ts';
import type { LakeRecord } from '../../../connectors/s3/lakeRecord.ts';
import { hourPartition, parseObjectKey } from '../../../connectors/s3/layout.ts';
import { createS3SinkConnector, type S3SinkConnector } from '../../../connectors/s3/s3SinkConnector.ts';
import type { Config } from '../../../src/config/config.ts';
import { loadSchema, loadType } from '../../../src/domain/schemas.ts';
import { createKafkaClient, type KafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { startRunnerProcess } from '../../../src/runner/runnerProcess.ts';
import { createS3Client } from '../../../src/s3/s3Client.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { prefixTopology } from '../../../src/testing/prefixTopology.ts';
import type { Ack, Output, SourceRecord } from '../../../src/topology/types.ts';
import { lakeTopology } from '../../../topologies/lake.ts';
import { type LakeObject, listLakeKeys, readLake } from '../../support/lake.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

// ---------------------------------------------------------------------------------------------
// Helpers: the lake as a reader sees it, and the topics as Kafka has them
// ---------------------------------------------------------------------------------------------

interface TopicRecord {
  partition: number;
  offset: string;
  key: string | null;
  valueHash: string;
  timestamp: number;
}

const hash = (b: Buffer | null) => (b === null ? 'null' : createHash('sha1').update(b).digest('hex'));

async function highWatermarks(kafka: KafkaClient, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** Every record of a topic, read back from Kafka with a throwaway group. */
async function readTopic(kafka: KafkaClient, topic: string): Promise<TopicRecord[]> {
  const highs = await highWatermarks(kafka, topic);
  const expected = [...highs.values()].reduce((n, h) => n + Number(h), 0);
  const records: TopicRecord[] = [];
  if (!expected) return records;
  const consumer = kafka.consumer({ groupId: uniqueName('it-read') });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let done!: () => void;
  const all = new Promise<void>((r) => {
    done = r;
  });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      records.push({
        partition,
        offset: message.offset,
        key: message.key?.toString('utf8') ?? null,
        valueHash: hash(message.value),
        timestamp: Number(message.timestamp),
      });
      if (records.length >= expected) done();
    },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      all,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`read only ${records.length}/${expected} records of ${topic}`)),
          60_000,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return records;
}

/** The first partition found behind by the last `committedEverything` call, for timeout messages. */
let lastLag = '';

async function committedEverything(kafka: KafkaClient, groupId: string, topics: string[]): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const topic of topics) {
      const highs = await highWatermarks(kafka, topic);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      for (const p of committed.partitions) {
        const high = highs.get(p.partition) ?? 0n;
        if (high > 0n && (p.offset === '-1' || BigInt(p.offset) < high)) {
          lastLag = `${topic}[${p.partition}] committed ${p.offset} of ${high}`;
          return false;
        }
      }
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Checks the raw-zone objects of one topic against the topic: the layout, one partition and one
 * event hour per object, the name's start offset is the first record's, and every record of the
 * topic is there exactly once with its original bytes.
 */
function assertExactlyOnce(objects: LakeObject[], topicRecords: TopicRecord[], zone: string, topic: string): void {
  const seen = new Map<string, LakeRecord>();
  for (const obj of objects) {
    const parsed = parseObjectKey(obj.key);
    assert.ok(parsed, `${obj.key} follows the layout`);
    assert.equal(parsed.zone, zone);
    assert.equal(parsed.topic, topic);
    const recs = obj.records as LakeRecord[];
    assert.ok(recs.length > 0, `${obj.key} is not empty`);
    assert.equal(
      String(recs[0].offset),
      parsed.startOffset.toString(),
      `${obj.key}: the name carries the first record's offset`,
    );
    const { dt, hour } = hourPartition(recs[0].timestamp);
    assert.deepEqual(
      [parsed.dt, parsed.hour],
      [dt, hour],
      `${obj.key}: the directory is the first record's event hour`,
    );
    for (const [i, r] of recs.entries()) {
      assert.equal(r.topic, topic);
      assert.equal(r.partition, parsed.partition, `${obj.key}: one partition per object`);
      assert.deepEqual(Object.values(hourPartition(r.timestamp)), [dt, hour], `${obj.key}: one event hour per object`);
      if (i > 0) assert.ok(r.offset > recs[i - 1].offset, `${obj.key}: offsets ascend`);
      const id = `${r.partition}/${r.offset}`;
      assert.ok(!seen.has(id), `record ${id} is in the lake twice (again in ${obj.key})`);
      seen.set(id, r);
    }
  }
  for (const t of topicRecords) {
    const r = seen.get(`${t.partition}/${t.offset}`);
    assert.ok(r, `record ${t.partition}/${t.offset} of ${topic} is missing from the lake`);
    assert.equal(hash(r.value), t.valueHash, `record ${t.partition}/${t.offset}: original bytes`);
    assert.equal(r.key, t.key);
    assert.equal(r.timestamp, t.timestamp);
  }
  assert.equal(seen.size, topicRecords.length, `${topic}: as many records in the lake as in the topic`);
}

async function createTopics(kafka: KafkaClient, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(
    admin,
    topics.map((topic) => ({ topic, partitions: 3 })),
    { partitions: 3, replicationFactor: 1 },
  );
  await admin.disconnect();
}

async function produce(
  kafka: KafkaClient,
  topic: string,
  messages: { partition: number; key: string; value: Buffer; timestamp: number; headers?: Record<string, string> }[],
): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < messages.length; i += 500) {
    await producer.send({
      topic,
      acks: -1,
      messages: messages.slice(i, i + 500).map((m) => ({ ...m, timestamp: String(m.timestamp) })),
    });
  }
  await producer.disconnect();
}

// ---------------------------------------------------------------------------------------------
// Through the runner: the lake topology, all three zones, and an idle partition
// ---------------------------------------------------------------------------------------------

const LAKE_EXACTLY_ONCE_TITLE =
  'the lake topology lands every record exactly once in its zone under the SPEC layout; an idle ' +
  'partition lands within idleCloseMs';
test(LAKE_EXACTLY_ONCE_TITLE, {
  timeout: 180_000,
}, async () => {
  const cfg: Config = { ...(await realStack()), httpPort: 0 };
  const prefix = uniqueName('it');
  const idleCloseMs = 1000;
  const def = prefixTopology(lakeTopology({ rollRecords: 400, idleCloseMs }), prefix);
  const orders = `${prefix}.oltp.orders`;
  const silver = `${prefix}.silver.customers`;
  const dlq = `${prefix}.oltp.customers.dlq`;
  const clicks = `${prefix}.web.clickstream`;
  const kafka = createKafkaClient(cfg, 'it-s3');
  const s3 = createS3Client(cfg);
  await createTopics(kafka, [orders, silver, dlq, clicks]);

  // Raw: 3000 records over three partitions, event times across three hours (09:30–11:10).
  const t0 = Date.UTC(2026, 0, 5, 9, 30);
  await produce(
    kafka,
    orders,
    Array.from({ length: 3000 }, (_, i) => ({
      partition: i % 3,
      key: `o${i}`,
      value: randomBytes(50 + (i % 200)),
      timestamp: t0 + i * 2000,
    })),
  );
  // Staging: silver customers, Avro through the registry.
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const silverId = await registry.register('silver.customers-value', loadSchema('silver.customers'));
  const customers = Array.from({ length: 300 }, (_, i) => ({
    customer_id: i,
    email: `c${i}@shop.test`,
    full_name: `C ${i}`,
    country: 'DE',
    created_at: 1,
    updated_at: 2,
    op: 'c' as const,
    extracted_at: 3,
  }));
  await produce(
    kafka,
    silver,
    await Promise.all(
      customers.map(async (c, i) => ({
        partition: i % 3,
        key: String(c.customer_id),
        value: await serde.encode(silverId, c),
        timestamp: t0 + i * 1000,
      })),
    ),
  );
  // Quarantine: DLQ records, garbage bytes with error headers.
  await produce(
    kafka,
    dlq,
    Array.from({ length: 60 }, (_, i) => ({
      partition: i % 3,
      key: `bad${i}`,
      value: Buffer.from(`not avro ${i}`),
      timestamp: t0 + i,
      headers: { 'sluice.error.reason': 'deserialize', 'sluice.error.offset': String(i) },
    })),
  );

  const groupId = uniqueName('it-lake');
  const proc = await startRunnerProcess(cfg, [def], { groupId, commitIntervalMs: 200 });
  try {
    // Commit-after-durable: once everything is committed, everything is in S3.
    await eventually(
      () => committedEverything(kafka, groupId, [orders, silver, dlq]),
      'all offsets committed',
      90_000,
    ).catch(async (err: Error) => {
      const state = (await (await fetch(`${proc.url}/metrics`)).text())
        .split('\n')
        .filter((l) => /^sluice_(connector|consumer|in_flight|paused|records_in)/.test(l));
      throw new Error(`${err.message}; still behind: ${lastLag}; runner state:\n${state.join('\n')}`);
    });

    const raw = await readLake(s3, cfg.s3Bucket, `raw/${orders}/`);
    assertExactlyOnce(raw, await readTopic(kafka, orders), 'raw', orders);
    assert.ok(new Set(raw.map((o) => parseObjectKey(o.key)!.hour)).size === 3, 'three hour directories');
    assert.ok(
      raw.every((o) => o.records.length <= 400),
      'rollRecords bounds every object',
    );

    const quarantine = await readLake(s3, cfg.s3Bucket, `quarantine/${dlq}/`);
    assertExactlyOnce(quarantine, await readTopic(kafka, dlq), 'quarantine', dlq);
    assert.ok(
      (quarantine.flatMap((o) => o.records) as LakeRecord[]).every(
        (r) => r.headers['sluice.error.reason'] === 'deserialize',
      ),
      'DLQ headers kept',
    );

    const staging = await readLake(s3, cfg.s3Bucket, `staging/${silver}/`);
    const ids = staging
      .flatMap((o) => (o.records as { customer_id: number }[]).map((c) => c.customer_id))
      .sort((a, b) => a - b);
    assert.deepEqual(
      ids,
      customers.map((c) => c.customer_id),
      'every silver customer once, decoded',
    );
    for (const obj of staging) {
      const parsed = parseObjectKey(obj.key)!;
      assert.equal(parsed.zone, 'staging');
      assert.equal(obj.meta['sluice.first.offset'], parsed.startOffset.toString());
      assert.equal(JSON.parse(obj.meta['avro.schema']).name, 'Customer', 'written with the silver schema');
      assert.equal(obj.meta['sluice.schema.id'], String(silverId));
    }
    const first = JSON.parse(JSON.stringify(staging[0].records[0])) as { customer_id: number };
    assert.deepEqual(first, customers[first.customer_id], 'values round-trip');

    // A sparse topic: one record, then nothing. The idle close lands it.
    const sent = Date.now();
    await produce(kafka, clicks, [{ partition: 1, key: 'lonely', value: Buffer.from('one click'), timestamp: sent }]);
    const [lonelyKey] = await eventually(
      async () => {
        const k = await listLakeKeys(s3, cfg.s3Bucket, `raw/${clicks}/`);
        return k.length ? k : undefined;
      },
      'the lonely record lands',
      30_000,
    );
    console.log(
      `# idle partition: one record landed ${Date.now() - sent} ms after it was produced (idleCloseMs ${idleCloseMs})`,
    );
    assert.match(
      lonelyKey,
      new RegExp(
        `^raw/${clicks.replaceAll('.', '\\.')}/dt=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/${clicks.replaceAll('.', '\\.')}\\+1\\+0\\.avro$`,
      ),
    );
    await eventually(() => committedEverything(kafka, groupId, [clicks]), 'the lonely record committed', 30_000);
  } finally {
    await proc.stop();
    s3.destroy();
  }
});

// ---------------------------------------------------------------------------------------------
// SIGKILL mid-upload, restart: still exactly once
// ---------------------------------------------------------------------------------------------

const CHILD = fileURLToPath(new URL('../../support/runLakeChild.ts', import.meta.url));

interface Child {
  proc: ChildProcess;
  ready: Promise<void>;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startChild(prefix: string, groupId: string, sink: S3SinkConfigInput): Child {
  const proc = spawn(process.execPath, [CHILD, prefix, groupId, JSON.stringify(sink)], {
    env: { SLUICE_LOG_LEVEL: 'warn', ...process.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d) => {
    err = (err + d).slice(-20_000);
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('ready')) resolve();
    });
    void exited.then((code) => reject(new Error(`runner child exited (${code}) before ready:\n${err}`)));
  });
  return { proc, ready, stderr: () => err, exited };
}

/** RSS of a process (MiB), sampled until stopped; the peak and the samples. */
function sampleRss(pid: number): { stop(): { peakMiB: number; samples: number } } {
  let peak = 0;
  let samples = 0;
  const timer = setInterval(() => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) {
        peak = Math.max(peak, Number(m[1]) / 1024);
        samples++;
      }
    } catch {
      /* exited */
    }
  }, 50);
  return {
    stop: () => {
      clearInterval(timer);
      return { peakMiB: Math.round(peak), samples };
    },
  };
}

const SIGKILL_MID_UPLOAD_TITLE =
  'a runner SIGKILLed mid-upload and restarted leaves every record in the lake exactly once, and no ' +
  'incomplete upload';
test(SIGKILL_MID_UPLOAD_TITLE, {
  timeout: 300_000,
}, async () => {
  const cfg = await realStack();
  const prefix = uniqueName('it');
  const topic = `${prefix}.oltp.orders`;
  const groupId = uniqueName('it-lake-crash');
  const kafka = createKafkaClient(cfg, 'it-s3-crash');
  const s3 = createS3Client(cfg);
  await createTopics(kafka, [topic]);
  // 36 000 records of ~2 KiB: per partition one 10 000-record batch (~20 MB, a multipart upload
  // of four or five parts) and a 2 000-record tail the idle close lands.
  const t0 = Date.UTC(2026, 0, 6, 14, 0);
  await produce(
    kafka,
    topic,
    Array.from({ length: 36_000 }, (_, i) => ({
      partition: i % 3,
      key: `o${i}`,
      value: Buffer.concat([Buffer.from(`${i}|`), randomBytes(2048)]),
      timestamp: t0 + i,
    })),
  );
  const sink: S3SinkConfigInput = { rollRecords: 10_000, idleCloseMs: 1000, queueSize: 1 };
  const prefixRaw = `raw/${topic}/`;
  const incompleteUploads = async () =>
    (await s3.send(new ListMultipartUploadsCommand({ Bucket: cfg.s3Bucket, Prefix: prefixRaw }))).Uploads ?? [];

  const first = startChild(prefix, groupId, sink);
  let second: Child | undefined;
  try {
    await first.ready;
    const rss1 = sampleRss(first.proc.pid!);
    const uploadsAtKill = await eventually(
      async () => {
        const u = await incompleteUploads();
        return u.length ? u : undefined;
      },
      'a multipart upload in progress',
      120_000,
    );
    first.proc.kill('SIGKILL');
    await first.exited;
    const objectsAtKill = await listLakeKeys(s3, cfg.s3Bucket, prefixRaw);
    console.log(
      `# killed mid-upload: ${uploadsAtKill.length} multipart upload(s) open, ${objectsAtKill.length} object(s) complete; first run peak RSS ${rss1.stop().peakMiB} MiB`,
    );

    second = startChild(prefix, groupId, sink);
    await second.ready;
    const rss2 = sampleRss(second.proc.pid!);
    // The dead member holds its partitions until its session times out (30 s), then the restart
    // replays from the committed offsets.
    await eventually(
      () => committedEverything(kafka, groupId, [topic]),
      'all offsets committed after the restart',
      180_000,
    ).catch((err) => {
      throw new Error(`${err}\nthe restarted runner's log:\n${second!.stderr()}`);
    });
    const { peakMiB, samples } = rss2.stop();
    console.log(
      `# restart uploaded ~72 MB (20 MB objects, partSize 5 MiB, queueSize 1): peak RSS ${peakMiB} MiB over ${samples} samples`,
    );
    second.proc.kill('SIGTERM');
    assert.equal(await second.exited, 0, `graceful stop:\n${second.stderr()}`);

    const objects = await readLake(s3, cfg.s3Bucket, prefixRaw);
    assertExactlyOnce(objects, await readTopic(kafka, topic), 'raw', topic);
    await eventually(
      async () => (await incompleteUploads()).length === 0,
      "the killed run's multipart uploads are aborted",
      30_000,
    ).catch(async (err) => {
      const left = (await incompleteUploads()).map((u) => `${u.Key} initiated ${u.Initiated?.toISOString()}`);
      const sweeps = second!
        .stderr()
        .split('\n')
        .filter((l) => /sweep|incomplete uploads/.test(l));
      throw new Error(`${err}\nleft: ${left.join('; ')}\nsweep logs:\n${sweeps.join('\n')}`);
    });
  } finally {
    for (const c of [first, second])
      if (c && c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    s3.destroy();
  }
});

// ---------------------------------------------------------------------------------------------
// The connector alone: replays that do not line up, and gzipped JSON lines
// ---------------------------------------------------------------------------------------------

interface Fed {
  released: number;
  failed: unknown[];
}

function feeder(connector: S3SinkConnector, topic: string, t0: number) {
  const fed: Fed = { released: 0, failed: [] };
  const ack: Ack = {
    retain() {},
    release() {
      fed.released++;
    },
    fail(err) {
      fed.failed.push(err);
    },
  };
  return {
    fed,
    add(partition: number, offset: number, value: unknown = null) {
      const source: SourceRecord = {
        topic,
        partition,
        offset: String(offset),
        key: Buffer.from(`k${offset}`),
        value: Buffer.from(`v${offset}`),
        headers: {},
        timestamp: t0 + offset,
      };
      const raw = value === null;
      const o: Output = raw
        ? { topic: 'lake.out', key: source.key, value: source.value, raw: true, acks: [ack], source }
        : { topic: 'lake.out', key: source.key, value, schemaSubjectTopic: 'silver.customers', acks: [ack], source };
      connector.add(o);
    },
  };
}

const ctx = { topology: 'it', schemaFor: loadType, schemaIds: new Map<string, number>() };

const REPLAY_IDLE_CLOSE_TITLE =
  'a replay that does not line up with an uncommitted idle close still writes every record once ' +
  '(existing starts align it; a replay inside an object skips what it holds)';
test(REPLAY_IDLE_CLOSE_TITLE, {
  timeout: 60_000,
}, async () => {
  const cfg = await realStack();
  const s3 = createS3Client(cfg);
  const topic = `${uniqueName('it')}.oltp.orders`;
  const t0 = Date.UTC(2026, 0, 7, 8, 0);
  try {
    // Run 1: 0–49 by count, 50–59 idle-closed, 60–159 by count. It dies with only 50 committed.
    const run1 = createS3SinkConnector(parseS3SinkConfig({ zone: 'raw', rollRecords: 50, idleCloseMs: 200 }), ctx, {
      client: s3,
      config: cfg,
    });
    await run1.connect();
    const f1 = feeder(run1, topic, t0);
    for (let o = 0; o < 60; o++) f1.add(0, o);
    await eventually(async () => f1.fed.released === 60, 'the idle batch is durable');
    for (let o = 60; o < 160; o++) f1.add(0, o);
    await run1.flush();
    await run1.close(5000);
    assert.deepEqual(run1.stats.rolls.idle, 1);

    // Run 2: rolls differently (no idle close) and replays from 50, then runs on to 229.
    const run2 = createS3SinkConnector(parseS3SinkConfig({ zone: 'raw', rollRecords: 50, idleCloseMs: 0 }), ctx, {
      client: s3,
      config: cfg,
    });
    await run2.connect();
    const f2 = feeder(run2, topic, t0);
    for (let o = 50; o < 230; o++) f2.add(0, o);
    await run2.flush();
    assert.equal(f2.fed.released, 180);
    assert.ok(
      run2.stats.rolls.aligned >= 1,
      `replay aligned on existing objects (${JSON.stringify(run2.stats.rolls)})`,
    );

    // Run 3: a replay from 55, inside the object 50–59 (the commit was held back by a record
    // routed elsewhere): 55–59 are acknowledged without a rewrite.
    const run3 = createS3SinkConnector(parseS3SinkConfig({ zone: 'raw', rollRecords: 50, idleCloseMs: 0 }), ctx, {
      client: s3,
      config: cfg,
    });
    await run3.connect();
    const f3 = feeder(run3, topic, t0);
    for (let o = 55; o < 230; o++) f3.add(0, o);
    await run3.flush();
    assert.equal(f3.fed.released, 175);
    assert.equal(run3.stats.skippedRecords, 5);
    await run2.close(1000);
    await run3.close(1000);

    const objects = await readLake(s3, cfg.s3Bucket, `raw/${topic}/`);
    const offsets = objects.flatMap((o) => (o.records as LakeRecord[]).map((r) => r.offset)).sort((a, b) => a - b);
    assert.deepEqual(
      offsets,
      Array.from({ length: 230 }, (_, i) => i),
      'offsets 0–229, each exactly once',
    );
    assert.deepEqual(
      objects.map((o) => parseObjectKey(o.key)!.startOffset).sort((a, b) => Number(a - b)),
      [0n, 50n, 60n, 110n, 160n, 210n],
    );
  } finally {
    s3.destroy();
  }
});

test('jsonl.gz: staging values as gzipped JSON lines, one object per partition batch', {
  timeout: 60_000,
}, async () => {
  const cfg = await realStack();
  const s3 = createS3Client(cfg);
  const topic = `${uniqueName('it')}.silver.customers`;
  try {
    const sink = createS3SinkConnector(
      parseS3SinkConfig({ zone: 'staging', format: 'jsonl.gz', rollRecords: 700, idleCloseMs: 0 }),
      ctx,
      { client: s3, config: cfg },
    );
    await sink.connect();
    const f = feeder(sink, topic, Date.UTC(2026, 0, 8, 12));
    const customer = (i: number) => ({
      customer_id: i,
      email: `c${i}@shop.test`,
      full_name: `Cüstomer "${i}"`,
      country: 'DE',
      created_at: 1,
      updated_at: 2,
      op: 'u',
      extracted_at: 3,
    });
    for (let i = 0; i < 2000; i++) f.add(i % 2, Math.floor(i / 2), customer(i));
    await sink.flush();
    await sink.close(1000);
    assert.equal(f.fed.released, 2000);
    const objects = await readLake(s3, cfg.s3Bucket, `staging/${topic}/`);
    assert.deepEqual(
      objects.map((o) => o.key.split('/').pop()).sort(),
      [`${topic}+0+0.jsonl.gz`, `${topic}+0+700.jsonl.gz`, `${topic}+1+0.jsonl.gz`, `${topic}+1+700.jsonl.gz`].sort(),
    );
    const rows = objects
      .flatMap((o) => o.records as ReturnType<typeof customer>[])
      .sort((a, b) => a.customer_id - b.customer_id);
    assert.deepEqual(
      rows,
      Array.from({ length: 2000 }, (_, i) => customer(i)),
    );
    assert.equal(sink.stats.rows, 2000);
    assert.equal(sink.stats.batches, 4);
  } finally {
    s3.destroy();
  }
});
