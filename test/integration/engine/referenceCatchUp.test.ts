import { test } from 'node:test';
import assert from 'node:assert/strict';
import clickstream from '../../../topologies/clickstream.ts';
import { buildClickstreamEvents, syntheticPrice } from '../../../src/shop/generate/clickstreamGenerator.ts';
import { startRunnerProcess } from '../../../src/runner/runnerProcess.ts';
import { prefixTopology } from '../../../src/testing/prefixTopology.ts';
import { clickstreamSource } from '../../support/clickstreamSource.ts';
import { readAll, topicCount } from '../../support/kafkaHelpers.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

/**
 * A reference row produced just before the record that references it (an extract publishes a
 * new product, then the click on it arrives) is in the reference table when the record is
 * checked: the runner lets its tables catch up with their topics before each batch. Without it,
 * the table follower is a fetch behind and valid records go to the DLQ.
 */
test('a reference row produced just before the record referencing it is found: no valid record is rejected by a lagging table', async () => {
  const cfg = { ...(await realStack()), httpPort: 0 };
  const prefix = uniqueName('it-refs');
  const {
    kafka,
    serde,
    producer,
    clicks,
    clickSchemaId: cid,
    productsTopic,
    productValue: product,
  } = await clickstreamSource(cfg, prefix, 1);

  const proc = await startRunnerProcess(cfg, [prefixTopology(clickstream, prefix)], {
    groupId: uniqueName('it-refs'),
    commitIntervalMs: 200,
  });
  try {
    // Each round: a new product, then at once a click on it (valid clicks only, one per product).
    const rounds = 150;
    for (let i = 0; i < rounds; i++) {
      const id = 1000 + i;
      await producer.send({
        topic: productsTopic,
        acks: -1,
        messages: [{ key: String(id), value: await product(id) }],
      });
      const { messages } = buildClickstreamEvents({
        count: 40,
        schemaId: cid,
        products: [{ id, price: syntheticPrice(id) }],
        seed: `refs-${i}`,
        baseTime: Date.now() - 60_000,
        badRatio: 0,
        maxMessageBytes: cfg.maxMessageBytes,
      });
      let onProduct: (typeof messages)[number] | undefined;
      for (const m of messages)
        if (
          m.kind !== 'duplicate' &&
          ((await serde.decode(m.value)).value as { product_id: number | null }).product_id === id
        ) {
          onProduct = m;
          break;
        }
      assert.ok(onProduct, 'a click on the new product');
      await producer.send({ topic: clicks, acks: -1, messages: [{ key: onProduct.key, value: onProduct.value }] });
    }
    await eventually(
      async () =>
        (await topicCount(kafka, `${prefix}.silver.clickstream`)) + (await topicCount(kafka, `${clicks}.dlq`)) >=
        rounds,
      'every click routed',
      60_000,
    );
    const dead = await readAll(cfg, `${clicks}.dlq`, kafka);
    assert.deepEqual(
      dead.map((r) => r.headers['sluice.error.rule']),
      [],
      'no valid click dead-lettered',
    );
    assert.equal(await topicCount(kafka, `${prefix}.silver.clickstream`), rounds);
  } finally {
    await producer.disconnect();
    await proc.stop();
  }
});
