import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRunnerProcess } from '../../../src/runner/runnerProcess.ts';
import { defineTopology } from '../../../src/topology/defineTopology.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';
import { customersSource } from '../../support/customersSource.ts';
import { gateSink } from '../../support/gateSink.ts';

const metricValue = (text: string, name: string) =>
  Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

test('a stalled output pauses partitions at the in-flight limit, keeps memory bounded, reports not ready, and resumes when it drains', async () => {
  const cfg = { ...(await realStack()), httpPort: 0 };
  const topic = uniqueName('it.stall');
  const gate = gateSink({ open: false });
  const def = defineTopology({
    name: 'stall',
    sources: [{ topic, schema: 'oltp.customers' }],
    outputs: [{ topic: 'gated', schema: 'oltp.customers', sink: () => gate.sink }],
    pipeline: ({ sources, ops }) => sources[topic].pipe(ops.decode(), ops.toTopic('gated')),
  });
  const { kafka, row, encode } = await customersSource(cfg, topic, { clientId: 'it-stall' });
  const total = 12_000;
  const producer = kafka.producer();
  await producer.connect();
  const messages = Array.from({ length: total }, (_, i) => ({
    key: String(i),
    value: encode(row(i, { full_name: 'x'.repeat(200) })),
  }));
  await producer.send({ topic, acks: -1, messages });
  await producer.disconnect();

  const limit = 300;
  const proc = await startRunnerProcess(cfg, [def], {
    groupId: uniqueName('it-stall'),
    maxInFlightPerPartition: limit,
    stallMs: 1500,
  });
  try {
    const scrape = async () => (await fetch(`${proc.url}/metrics`)).text();
    await eventually(
      async () => metricValue(await scrape(), 'sluice_paused_partitions') === 3,
      'all 3 partitions paused',
      30_000,
    );
    const rssPaused = process.memoryUsage().rss;
    // Give the consumer every chance to over-fetch, then check it did not.
    await eventually(
      async () => (await fetch(`${proc.url}/readyz`)).status === 503,
      'not ready while stalled with lag',
      15_000,
    );
    const consumed = metricValue(await scrape(), 'sluice_records_in_total');
    assert.equal(consumed, 3 * limit, 'exactly the in-flight limit per partition was taken in, no more');
    assert.equal(gate.held.length, 3 * limit);

    gate.open();
    await eventually(
      async () => metricValue(await scrape(), 'sluice_records_in_total') === total,
      'everything consumed after the output drains',
      60_000,
    );
    await eventually(
      async () => metricValue(await scrape(), 'sluice_paused_partitions') === 0,
      'partitions resumed',
      10_000,
    );
    await eventually(async () => (await fetch(`${proc.url}/readyz`)).status === 200, 'ready again', 10_000);
    process.stdout.write(
      `# paused at ${consumed} records in flight; rss while paused ${(rssPaused / 2 ** 20).toFixed(0)} MiB\n`,
    );
  } finally {
    gate.open();
    await proc.stop();
  }
});
