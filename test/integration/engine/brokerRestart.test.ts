import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { restartBroker } from '../../../bench/chaos/stackControl.ts';
import { PROJECT_ROOT } from '../../../src/config/config.ts';
import { retryKafka } from '../../../src/kafka/retryKafka.ts';
import { customersSource } from '../../support/customersSource.ts';
import { readAll, topicCount } from '../../support/kafkaHelpers.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

/**
 * A broker that crashes and comes back ~20 s later is a transient error: the runner keeps
 * running, its sends wait for the broker instead of giving up after the client's own retries
 * (chaos, at-least-once: the metrics runner stopped with KAFKA_PRODUCE_FAILED "Connection error:
 * connect ECONNREFUSED"), and every input reaches silver or its DLQ.
 */
test('a broker crash and restart mid-stream: the runner keeps running and loses nothing', async () => {
  const cfg = await realStack();
  const prefix = uniqueName('it-broker');
  const source = `${prefix}.oltp.customers`;
  const { kafka, row, encode } = await customersSource(cfg, source, { clientId: 'it-broker' });
  const groupId = uniqueName('it-broker');
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(PROJECT_ROOT, 'test/support/runTopologyChild.ts'), 'customers', prefix, groupId],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SLUICE_LOG_LEVEL: 'fatal' } },
  );
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`runner child exited early with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (l) => l.startsWith('ready ') && resolve());
  });

  // A backlog the runner works through while the broker goes away: it has fetched records in
  // hand and sends in flight when the connection drops.
  const total = 150_000;
  const producer = kafka.producer();
  await producer.connect();
  for (let from = 0; from < total; from += 5000) {
    const messages: { key: string; value: Buffer }[] = [];
    for (let i = from; i < from + 5000; i++)
      messages.push({ key: String(i), value: encode(row(i, i % 10 === 0 ? { email: null } : {})) });
    await producer.send({ topic: source, acks: -1, messages });
  }
  await producer.disconnect();
  const silver = `${prefix}.silver.customers`;
  const dlq = `${source}.dlq`;
  const out = async () => (await topicCount(kafka, silver)) + (await topicCount(kafka, dlq));
  const admin = kafka.admin();
  try {
    await eventually(async () => (await out()) > 2000, 'the runner producing', 60_000);
    const atRestart = await out();
    const { downMs } = await restartBroker(cfg);
    assert.ok(atRestart < total, `the broker went down mid-stream (${atRestart} of ${total} out)`);
    await admin.connect();
    const committed = async () =>
      (
        await retryKafka(() => admin.fetchOffsets({ groupId, topics: [source] }), 'committed offsets')
      )[0].partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    await eventually(
      async () => exitCode !== undefined || (await committed()) === total,
      `all ${total} inputs committed`,
      180_000,
    );
    assert.equal(exitCode, undefined, `the runner stopped during the broker restart (exit ${exitCode})`);
    const keys = new Set<string>();
    for (const r of [...(await readAll(cfg, silver, kafka)), ...(await readAll(cfg, dlq, kafka))]) keys.add(r.key!);
    assert.equal(keys.size, total, 'every input in silver or its DLQ');
    process.stdout.write(
      `# broker down for ${(downMs / 1000).toFixed(1)} s at ${atRestart} of ${total} out; none lost\n`,
    );
  } finally {
    await admin.disconnect().catch(() => {});
    if (exitCode === undefined) {
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(kill);
    }
  }
});
