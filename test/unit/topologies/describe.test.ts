import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeTopology, graphAsMermaid, graphAsText } from '../../../src/topology/describeTopology.ts';
import { TOPOLOGIES } from '../../../topologies/index.ts';

test('describe gives the lineage from every source to every output, its DLQ included, as JSON, text and Mermaid', () => {
  const g = describeTopology(TOPOLOGIES.orders);
  assert.deepEqual(
    g.sources.map((s) => [s.topic, s.dlq]),
    [
      ['oltp.orders', 'oltp.orders.dlq'],
      ['oltp.order_items', 'oltp.order_items.dlq'],
    ],
  );
  assert.deepEqual(
    new Set(g.lineage.map((l) => `${l.from}→${l.to}`)),
    new Set([
      'oltp.orders→silver.orders',
      'oltp.order_items→silver.order_items',
      'oltp.orders→oltp.orders.dlq',
      'oltp.order_items→oltp.order_items.dlq',
    ]),
  );
  assert.ok(g.rules.some((r) => r.name === 'order_customer_exists' && r.kind === 'referential'));
  assert.deepEqual(g.references.map((r) => r.topic).sort(), ['oltp.customers', 'oltp.orders', 'oltp.products']);
  assert.match(graphAsText(g), /oltp\.orders → decode → .* → silver\.orders/);
  const mermaid = graphAsMermaid(Object.values(TOPOLOGIES).map(describeTopology));
  assert.match(mermaid, /^flowchart LR/);
  for (const t of Object.values(TOPOLOGIES)) assert.match(mermaid, new RegExp(`topology ${t.name}`));
});

test("describe names a dedupe rule's durable state and its partition scope", () => {
  const g = describeTopology(TOPOLOGIES.clickstream);
  const unique = g.rules.find((r) => r.kind === 'unique')!;
  assert.equal(unique.state, 'sluice.clickstream.click_event_unique.dedupe.changelog');
  assert.match(unique.check, /of event_time, per source partition/);
  assert.match(
    graphAsText(g),
    /click_event_unique .*state sluice\.clickstream\.click_event_unique\.dedupe\.changelog, co-partitioned with the source/,
  );
  assert.equal(describeTopology(TOPOLOGIES.orders).rules.find((r) => r.kind === 'referential')!.state, undefined);
});
