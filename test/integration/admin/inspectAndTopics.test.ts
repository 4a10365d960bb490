import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { inspectCommand } from '../../../src/cli/inspectCommand.ts';
import { topicsCommand } from '../../../src/cli/topicsCommand.ts';
import { formatInspected } from '../../../src/cli/inspectCommand.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import { dlqHeaders } from '../../../src/engine/dlqHeaders.ts';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import type { UndecodableValue } from '../../../src/admin/decodeForDisplay.ts';
import { inspectTopic } from '../../../src/admin/inspectTopic.ts';
import { parseTime } from '../../../src/cli/argParsers.ts';
import { formatTopicsTable, listSluiceTopics } from '../../../src/admin/listTopics.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { realStack, uniqueName } from '../../support/stack.ts';

/** Anything a terminal could act on: C0 (but newline), DEL, C1, direction overrides. */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

async function capture(fn: () => Promise<unknown>): Promise<string> {
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    chunks.push(chunk.toString());
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = write;
  }
  return chunks.join('');
}

function cli(): Command {
  const program = new Command('sluice').exitOverride();
  inspectCommand(program);
  topicsCommand(program);
  return program;
}

test('inspect decodes Avro, shows DLQ headers as text and undecodable bytes safely, selects by offset and time; topics reports offsets, lag and DLQ reasons', async () => {
  const cfg = await realStack();
  const prefix = uniqueName('it');
  const source = `${prefix}.oltp.customers`;
  const dlq = `${source}.dlq`;
  const kafka = createKafkaClient(cfg, 'it-inspect');
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(
      admin,
      [
        { topic: source, partitions: 2 },
        { topic: dlq, partitions: 1 },
      ],
      { partitions: 1, replicationFactor: 1 },
    );
    const registry = createRegistryClient(cfg);
    const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
    const id = await registry.register('oltp.customers-value', loadSchema('oltp.customers'));
    const customer = (i: number, email: string | null) =>
      serde.encode(id, {
        customer_id: i,
        email,
        full_name: `C ${i}`,
        country: 'DE',
        created_at: 1,
        updated_at: 2,
        op: 'c',
        extracted_at: 3,
      });

    // Three records on partition 0, one second apart (in the past: brokers refuse future timestamps).
    const t0 = Date.now() - 60_000;
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: source,
      acks: -1,
      messages: await Promise.all(
        [0, 1, 2].map(async (i) => ({
          key: String(i),
          value: await customer(i, `c${i}@shop.test`),
          partition: 0,
          timestamp: String(t0 + i * 1000),
        })),
      ),
    });
    await producer.send({
      topic: source,
      acks: -1,
      messages: [{ key: '9', value: await customer(9, 'c9@shop.test'), partition: 1, timestamp: String(t0 + 500) }],
    });

    // The DLQ: a rule failure (Avro), bytes that would drive a terminal, an id the registry never issued.
    const hostile = Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0x07, 0x00, 0xff, 0x41, 0x0a, 0x9b]);
    const unknownId = Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 1, 2, 3]);
    const src = (offset: number) => ({
      topic: source,
      partition: 0,
      offset: String(offset),
      key: null,
      value: null,
      headers: {},
      timestamp: t0,
    });
    const headers = (reason: 'rule' | 'deserialize' | 'schema', offset: number, message: string, rule?: string) =>
      dlqHeaders({ source: src(offset), topology: 'customers', reason, rule, message, now: t0 + 5000 });
    await producer.send({
      topic: dlq,
      acks: -1,
      messages: [
        {
          key: '5',
          value: await customer(5, null),
          headers: headers('rule', 5, 'email is missing', 'customer_email_present'),
        },
        {
          key: '6',
          value: hostile,
          headers: { ...headers('deserialize', 6, 'not Avro: \u001b[31mred\u009b'), 'x-note': 'bell\u0007' },
        },
        { key: '7', value: unknownId, headers: headers('schema', 7, 'unknown schema') },
        { key: '8', value: Buffer.from('plain text'), headers: headers('deserialize', 8, 'not Avro') },
      ],
    });
    await producer.disconnect();

    // Avro decoded, DLQ headers as text.
    // Original values (--show-pii): this checks decoding; masking is test/integration/pii's.
    const dlqRecords = await inspectTopic(cfg, { topic: dlq, fromBeginning: true, showPii: true });
    assert.equal(dlqRecords.length, 4);
    const [rule, bad, unknown, text] = dlqRecords;
    assert.deepEqual(rule.value, {
      customer_id: 5,
      email: null,
      full_name: 'C 5',
      country: 'DE',
      created_at: 1,
      updated_at: 2,
      op: 'c',
      extracted_at: 3,
    });
    assert.equal(rule.schemaId, id);
    assert.equal(rule.key, '5');
    assert.equal(rule.headers['sluice.error.reason'], 'rule');
    assert.equal(rule.headers['sluice.error.rule'], 'customer_email_present');
    assert.equal(rule.headers['sluice.error.offset'], '5');
    // Undecodable bytes: the code, the exact bytes (base64) and an escaped preview.
    const badValue = bad.value as UndecodableValue;
    assert.equal(badValue.undecodable, true);
    assert.equal(badValue.error, 'SLUICE_ERR_SERDE_BAD_MAGIC');
    assert.deepEqual(Buffer.from(badValue.bytesBase64, 'base64'), hostile);
    assert.equal(badValue.preview, '\\x1b[2J\\x07\\x00\\xffA\\n\\x9b');
    assert.equal((unknown.value as UndecodableValue).error, 'SLUICE_ERR_SERDE_UNKNOWN_SCHEMA');
    assert.equal((text.value as UndecodableValue).preview, 'plain text');
    // Nothing a terminal would act on reaches the output, in either format.
    const human = formatInspected(dlqRecords);
    assert.doesNotMatch(human, CONTROL);
    assert.match(human, /sluice\.error\.reason\s+deserialize/);
    assert.match(human, /not Avro: \\u001b\[31mred\\u009b/, 'escapes are shown, not executed');
    const json = await capture(() =>
      cli().parseAsync(['inspect', dlq, '--from-beginning', '--json'], { from: 'user' }),
    );
    assert.doesNotMatch(json, CONTROL);
    const lines = json
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 4);
    assert.equal(lines[1].headers['x-note'], 'bell\u0007', 'JSON keeps the exact text, escaped');

    // Start positions.
    const byOffset = await inspectTopic(cfg, { topic: source, partition: 0, offset: 1 });
    assert.deepEqual(
      byOffset.map((r) => r.offset),
      ['1', '2'],
    );
    const sinceIso = await inspectTopic(cfg, { topic: source, since: parseTime(new Date(t0 + 1000).toISOString()) });
    assert.deepEqual(
      sinceIso.map((r) => `${r.partition}/${r.offset}`),
      ['0/1', '0/2'],
      'partition 1 has nothing at or after that time',
    );
    const sinceAll = await inspectTopic(cfg, { topic: source, since: t0 });
    assert.deepEqual(
      sinceAll.map((r) => r.key),
      ['0', '9', '1', '2'],
      'merged by timestamp across partitions',
    );
    const first = await inspectTopic(cfg, { topic: source, fromBeginning: true, limit: 2 });
    assert.deepEqual(
      first.map((r) => r.key),
      ['0', '9'],
    );
    const newest = await inspectTopic(cfg, { topic: source, limit: 1 });
    assert.deepEqual(
      newest.map((r) => r.key),
      ['2'],
      'without a start: the newest records',
    );
    assert.deepEqual(await inspectTopic(cfg, { topic: source, partition: 1, offset: 5 }), []);
    await assert.rejects(inspectTopic(cfg, { topic: `${prefix}.missing` }), /does not exist/);
    await assert.rejects(inspectTopic(cfg, { topic: source, partition: 7 }), /no partition 7/);

    // topics: partitions, end offsets, a group's lag, DLQ counts by reason.
    const groupId = uniqueName('it-lag');
    await admin.setOffsets({
      groupId,
      topic: source,
      partitions: [
        { partition: 0, offset: '1' },
        { partition: 1, offset: '1' },
      ],
    });
    const rows = await listSluiceTopics(cfg, { topics: [source, dlq] });
    const s = rows.find((r) => r.topic === source)!;
    assert.equal(s.partitions, 2);
    assert.deepEqual(s.endOffsets, { total: 4, byPartition: { 0: 3, 1: 1 } });
    assert.deepEqual(s.groups, [{ groupId, lag: 2, byPartition: { 0: 2, 1: 0 } }]);
    assert.equal(s.dlq, undefined);
    const d = rows.find((r) => r.topic === dlq)!;
    assert.deepEqual(d.dlq, { counted: 4, byReason: { rule: 1, deserialize: 2, schema: 1 }, truncated: false });
    const capped = await listSluiceTopics(cfg, { topics: [dlq], dlqLimit: 2 });
    assert.deepEqual([capped[0].dlq!.counted, capped[0].dlq!.truncated], [2, true]);
    const table = formatTopicsTable(rows);
    assert.match(
      table,
      new RegExp(`${dlq.replace(/\./g, '\\.')}\\s+1\\s+4 \\(4\\)\\s+-\\s+deserialize=2 rule=1 schema=1`),
    );
    assert.match(table, new RegExp(`${groupId}=2`));
    const all = JSON.parse(await capture(() => cli().parseAsync(['topics', '--json'], { from: 'user' })));
    assert.ok(
      all.some((r: { topic: string }) => r.topic === dlq),
      'the CLI lists every topic',
    );
    assert.ok(!all.some((r: { topic: string }) => r.topic.startsWith('__')), 'internal topics are left out');
  } finally {
    await admin.disconnect();
  }
});

test('inspect shortens an oversized DLQ value for people (its size shown, --max-bytes to change); --json keeps it whole', async () => {
  const cfg = await realStack();
  const dlq = `${uniqueName('it')}.web.clickstream.dlq`;
  const kafka = createKafkaClient(cfg, 'it-inspect-big');
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [{ topic: dlq, partitions: 1 }], { partitions: 1, replicationFactor: 1 });
    const big = Buffer.alloc(600_000, 0x41); // not Avro: shown as base64 and a preview
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: dlq, acks: -1, messages: [{ key: 'big', value: big }] });
    await producer.disconnect();
    const base64 = big.toString('base64');

    const human = await capture(() => cli().parseAsync(['inspect', dlq, '--from-beginning'], { from: 'user' }));
    assert.ok(human.length < 5000, `${human.length} characters printed`);
    assert.ok(human.includes(`${base64.slice(0, 1024)}…(+${(base64.length - 1024).toLocaleString('en')} bytes;`));
    assert.match(human, /"bytes": 600000,/);
    const more = await capture(() =>
      cli().parseAsync(['inspect', dlq, '--from-beginning', '--max-bytes', '0'], { from: 'user' }),
    );
    assert.ok(more.includes(base64), '--max-bytes 0 prints everything');
    const json = await capture(() =>
      cli().parseAsync(['inspect', dlq, '--from-beginning', '--json'], { from: 'user' }),
    );
    assert.equal(JSON.parse(json).value.bytesBase64, base64, '--json prints the whole value');
  } finally {
    await admin.disconnect();
  }
});
