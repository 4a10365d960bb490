import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT } from '../../../src/config/config.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { readAll } from '../../support/kafkaHelpers.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

function startChild(
  prefix: string,
  groupId: string,
  maxInFlight: number,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [path.join(PROJECT_ROOT, 'test/support/runTopologyChild.ts'), 'customers', prefix, groupId, String(maxInFlight)],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SLUICE_LOG_LEVEL: 'error' } },
  );
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`runner child exited early with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('ready ')) resolve({ child, url: line.slice(6) });
    });
  });
}

const assigned = async (url: string) =>
  ((await (await fetch(`${url}/readyz`)).json()) as { topologies: { assigned: number }[] }).topologies[0].assigned;

test('two runners in one group share the partitions; killing one hands its partitions to the other without losing records', async () => {
  const cfg = await realStack();
  const prefix = uniqueName('it');
  const source = `${prefix}.oltp.customers`;
  const kafka = createKafkaClient(cfg, 'it-two');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic: source, partitions: 4 }], { partitions: 4, replicationFactor: 1 });
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const id = await registry.register('oltp.customers-value', loadSchema('oltp.customers'));
  const producer = kafka.producer();
  await producer.connect();
  let next = 0;
  const produce = async (n: number) => {
    const messages = [];
    for (let i = 0; i < n; i++, next++)
      messages.push({
        key: String(next),
        value: await serde.encode(id, {
          customer_id: next,
          email: `c${next}@x.test`,
          full_name: 'n',
          country: 'IT',
          created_at: 1,
          updated_at: 1,
          op: 'c',
          extracted_at: 1,
        }),
      });
    await producer.send({ topic: source, acks: -1, messages });
  };

  const groupId = uniqueName('it-two');
  const a = await startChild(prefix, groupId, 10_000);
  const b = await startChild(prefix, groupId, 10_000);
  try {
    await eventually(
      async () => (await assigned(a.url)) === 2 && (await assigned(b.url)) === 2,
      'partitions split 2/2',
      60_000,
    );
    await produce(5000);
    a.child.removeAllListeners('exit');
    a.child.kill('SIGKILL');
    await once(a.child, 'exit');
    await produce(5000);
    await eventually(async () => (await assigned(b.url)) === 4, 'the survivor owns all 4 partitions', 90_000);
    await eventually(
      async () => {
        const committed = (await admin.fetchOffsets({ groupId, topics: [source] }))[0].partitions;
        return committed.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0) === next;
      },
      'every record committed by the survivor',
      90_000,
    );
  } finally {
    for (const c of [a, b]) {
      c.child.removeAllListeners('exit');
      if (c.child.exitCode === null && c.child.signalCode === null) {
        c.child.kill('SIGTERM');
        await once(c.child, 'exit');
      }
    }
    await producer.disconnect();
    await admin.disconnect();
  }
  const keys = new Set((await readAll(cfg, `${prefix}.silver.customers`, kafka)).map((r) => r.key));
  for (let i = 0; i < next; i++) assert.ok(keys.has(String(i)), `record ${i} lost`);
});
