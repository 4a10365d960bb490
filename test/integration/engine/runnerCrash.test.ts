import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT } from '../../../src/config/config.ts';
import { readAll, topicCount } from '../../support/kafkaHelpers.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';
import { customersSource } from '../../support/customersSource.ts';

function startChild(prefix: string, groupId: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [path.join(PROJECT_ROOT, 'test/support/runTopologyChild.ts'), 'customers', prefix, groupId],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SLUICE_LOG_LEVEL: 'error' } },
  );
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`runner child exited early with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('ready ')) resolve({ child, url: line.slice(6) });
    });
  });
}

async function produceCustomers(cfg: Awaited<ReturnType<typeof realStack>>, topic: string, n: number) {
  const { kafka, row, encode } = await customersSource(cfg, topic, { clientId: 'it-crash' });
  const producer = kafka.producer();
  await producer.connect();
  for (let start = 0; start < n; start += 5000) {
    const messages = [];
    for (let i = start; i < Math.min(n, start + 5000); i++) {
      // Every 10th row breaks a rule, so both outputs (silver and DLQ) are exercised.
      messages.push({ key: String(i), value: encode(row(i, i % 10 === 0 ? { email: null } : {})) });
    }
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
  return kafka;
}

test('SIGKILL mid-stream loses nothing; duplicates only for offsets at or after the last commit', async () => {
  const cfg = await realStack();
  const prefix = uniqueName('it');
  const source = `${prefix}.oltp.customers`;
  const silver = `${prefix}.silver.customers`;
  const dlq = `${source}.dlq`;
  const total = 60_000;
  const kafka = await produceCustomers(cfg, source, total);
  const groupId = uniqueName('it-crash');

  const first = await startChild(prefix, groupId);
  await eventually(async () => (await topicCount(kafka, silver)) > 5000, 'some output before the kill', 60_000);
  first.child.removeAllListeners('exit');
  first.child.kill('SIGKILL');
  await once(first.child, 'exit');

  const admin = kafka.admin();
  await admin.connect();
  const committedAtKill = new Map(
    (await admin.fetchOffsets({ groupId, topics: [source] }))[0].partitions.map((p) => [p.partition, BigInt(p.offset)]),
  );
  const outAtKill = (await topicCount(kafka, silver)) + (await topicCount(kafka, dlq));
  assert.ok(outAtKill < total, `the kill happened mid-stream (${outAtKill} of ${total} out)`);

  const second = await startChild(prefix, groupId);
  try {
    await eventually(
      async () => {
        const committed = (await admin.fetchOffsets({ groupId, topics: [source] }))[0].partitions;
        return committed.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0) === total;
      },
      'every input committed after the restart',
      120_000,
    );
  } finally {
    second.child.removeAllListeners('exit');
    second.child.kill('SIGTERM');
    await once(second.child, 'exit');
  }
  await admin.disconnect();

  // Map outputs back to inputs: customer_id is the input's identity; its coordinates come from the source.
  const inputs = await readAll(cfg, source, kafka);
  const coordinates = new Map(inputs.map((r) => [r.key!, { partition: r.partition, offset: BigInt(r.offset) }]));
  const seen = new Map<string, number>();
  for (const r of [...(await readAll(cfg, silver, kafka)), ...(await readAll(cfg, dlq, kafka))])
    seen.set(r.key!, (seen.get(r.key!) ?? 0) + 1);
  let duplicates = 0;
  for (const [key, at] of coordinates) {
    const n = seen.get(key) ?? 0;
    assert.ok(n >= 1, `input ${key} (p${at.partition}@${at.offset}) was lost`);
    if (n > 1) {
      duplicates++;
      assert.ok(
        at.offset >= (committedAtKill.get(at.partition) ?? 0n),
        `input ${key} at p${at.partition}@${at.offset} duplicated although committed before the kill`,
      );
      assert.equal(n, 2);
    }
  }
  assert.equal(coordinates.size, total);
  process.stdout.write(`# kill after ${outAtKill} outputs; ${duplicates} duplicates, all after the last commit\n`);
});
