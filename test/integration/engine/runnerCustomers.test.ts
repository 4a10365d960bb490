import { test } from 'node:test';
import assert from 'node:assert/strict';
import customers from '../../../topologies/customers.ts';
import { startRunnerProcess } from '../../../src/runner/runnerProcess.ts';
import { prefixTopology } from '../../../src/testing/prefixTopology.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';
import { customersSource } from '../../support/customersSource.ts';
import { topicCount } from '../../support/kafkaHelpers.ts';

test('the runner routes every input to silver or the DLQ, commits all offsets, and reports it on /metrics and /readyz', async () => {
  const cfg = { ...(await realStack()), httpPort: 0 };
  const prefix = uniqueName('it');
  const def = prefixTopology(customers, prefix);
  const source = `${prefix}.oltp.customers`;
  const { kafka, row, encode } = await customersSource(cfg, source, { clientId: 'it-runner' });

  const valid = 600,
    noEmail = 40,
    garbage = 25;
  const messages = [];
  for (let i = 0; i < valid + noEmail; i++) {
    messages.push({ key: String(i), value: encode(row(i, i < valid ? {} : { email: null })) });
  }
  for (let i = 0; i < garbage; i++) messages.push({ key: `g${i}`, value: Buffer.from(`not avro ${i}`) });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: source, acks: -1, messages });
  await producer.disconnect();

  const groupId = uniqueName('it-customers');
  // No periodic commit during the test: the offsets found afterwards come from the graceful stop.
  const proc = await startRunnerProcess(cfg, [def], { groupId, commitIntervalMs: 600_000 });
  try {
    const silver = `${prefix}.silver.customers`;
    const dlq = `${source}.dlq`;
    await eventually(
      async () => (await topicCount(kafka, silver)) + (await topicCount(kafka, dlq)) === messages.length,
      'all records routed',
      60_000,
    );
    assert.equal(await topicCount(kafka, silver), valid);
    assert.equal(await topicCount(kafka, dlq), noEmail + garbage);

    const metrics = await (await fetch(`${proc.url}/metrics`)).text();
    assert.match(
      metrics,
      new RegExp(`sluice_records_in_total\\{topology="customers",topic="${source}"\\} ${messages.length}`),
    );
    assert.match(
      metrics,
      new RegExp(`sluice_records_dlq_total\\{topology="customers",topic="${source}",reason="rule"\\} ${noEmail}`),
    );
    assert.match(
      metrics,
      new RegExp(
        `sluice_records_dlq_total\\{topology="customers",topic="${source}",reason="deserialize"\\} ${garbage}`,
      ),
    );
    assert.match(metrics, /sluice_rule_failures_total\{topology="customers",rule="customer_email_present"\} 40/);

    const ready = await fetch(`${proc.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal((await fetch(`${proc.url}/healthz`)).status, 200);
  } finally {
    await proc.stop();
  }
  // After a graceful stop every offset is committed: a restart would re-process nothing.
  const check = kafka.admin();
  await check.connect();
  const committed = await check.fetchOffsets({ groupId, topics: [source] });
  const ends = await check.fetchTopicOffsets(source);
  for (const p of committed[0].partitions)
    assert.equal(
      p.offset,
      ends.find((e) => e.partition === p.partition)!.high,
      `partition ${p.partition} fully committed`,
    );
  await check.disconnect();
});
