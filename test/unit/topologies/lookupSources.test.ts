import { test } from 'node:test';
import assert from 'node:assert/strict';
import { map } from 'rxjs';
import { describeTopology } from '../../../src/engine/describeTopology.ts';
import { defineTopology } from '../../../src/topology/defineTopology.ts';
import { sourcesThatLookUp } from '../../../src/topology/lookupSources.ts';
import type { ClickEvent } from '../../../src/domain/types.generated.ts';
import { TOPOLOGIES } from '../../../topologies/index.ts';

/**
 * Only batches of sources whose records meet a table lookup wait for the reference tables to
 * catch up (two end-offset round trips per batch and table): read off the graph the pipeline built.
 */

const lookups = (name: string) => [...(sourcesThatLookUp(describeTopology(TOPOLOGIES[name]).graph) ?? ['(all)'])];

test('the shipped topologies: lookups from the sources that reach an enrich or a referential rule', () => {
  assert.deepEqual(lookups('clickstream'), ['web.clickstream']);
  assert.deepEqual(lookups('orders').sort(), ['oltp.order_items', 'oltp.orders']);
  // Stage 2 (the repartition topic), the clicks and the DLQ counts never look anything up.
  assert.deepEqual(lookups('metrics'), ['silver.order_items']);
  assert.deepEqual(lookups('products'), []);
});

test('a lookup behind plain RxJS the graph cannot trace: every source waits for the tables', () => {
  const def = defineTopology({
    name: 'untraced',
    sources: [{ topic: 'web.clickstream' }],
    references: { products: { topic: 'oltp.products', key: 'product_id' } },
    outputs: [{ topic: 'silver.clickstream', schema: 'web.clickstream' }],
    pipeline: ({ sources, ops }) =>
      sources['web.clickstream'].pipe(
        ops.decode<ClickEvent>(),
        map((e) => e),
        ops.enrich(
          'products',
          (c: ClickEvent) => String(c.product_id),
          (c: ClickEvent) => c,
        ),
        ops.toTopic('silver.clickstream'),
      ),
  });
  assert.equal(sourcesThatLookUp(describeTopology(def).graph), undefined);
});
