import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeTopology, graphAsMermaid, graphAsText } from '../../../src/engine/describeTopology.ts';
import { TOPOLOGIES } from '../../../topologies/index.ts';
import { map } from 'rxjs';
import { defineTopology } from '../../../src/topology/defineTopology.ts';
import { createTestDriver } from '../../../src/testing/testDriver.ts';
import type { Envelope } from '../../../src/topology/types.ts';
import { customer, T0 } from './fixtures.ts';
import { UNTRACED } from '../../../src/topology/graph.ts';
import { prefixTopology } from '../../../src/testing/prefixTopology.ts';
import type { Customer } from '../../../src/domain/types.generated.ts';

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

test('a prefixed topology keeps its dedupe state on a changelog of its own', () => {
  // Two test or bench runs sharing one changelog: the second restores the first's ids and
  // dead-letters every record of the same generator seed as a duplicate.
  const g = describeTopology(prefixTopology(TOPOLOGIES.clickstream, 'run1'));
  const unique = g.rules.find((r) => r.kind === 'unique')!;
  assert.equal(unique.state, 'sluice.clickstream.run1.click_event_unique.dedupe.changelog');
  // The store the pipeline's validate step really opens, not only the description.
  assert.match(graphAsText(g), /state sluice\.clickstream\.run1\.click_event_unique\.dedupe\.changelog/);
});

test("describe names a dedupe rule's durable state and its partition scope", () => {
  const g = describeTopology(TOPOLOGIES.clickstream);
  const unique = g.rules.find((r) => r.kind === 'unique')!;
  assert.equal(unique.state, 'sluice.clickstream.click_event_unique.dedupe.changelog');
  assert.match(unique.check, /of event_time, per source partition/);
  assert.match(
    graphAsText(g),
    new RegExp(
      'click_event_unique .*state sluice\\.clickstream\\.click_event_unique\\.dedupe\\.changelog, ' +
        'co-partitioned with the source',
    ),
  );
  assert.equal(describeTopology(TOPOLOGIES.orders).rules.find((r) => r.kind === 'referential')!.state, undefined);
});

test('describe is derived from the pipeline: changing the pipeline changes the lineage and the graph', () => {
  const base = TOPOLOGIES.customers;
  const before = describeTopology(base);
  const path = (d: ReturnType<typeof describeTopology>) => d.lineage.find((l) => l.to === 'silver.customers')!.via;
  assert.deepEqual(path(before), [
    'decode',
    'validate(customer_email_present, customer_email_format)',
    'maskPii(silver)',
    'keyBy(customer_id)',
  ]);
  // The same declarations, another pipeline: no rule, a filter, and another key.
  const changed = defineTopology({
    ...base,
    pipeline: ({ sources, ops }) =>
      sources['oltp.customers'].pipe(
        ops.decode<Customer>(),
        ops.filterValue((c: Customer) => c.country === 'DE', 'germanOnly'),
        ops.keyBy((c: Customer) => c.email),
        ops.toTopic('silver.customers'),
      ),
  });
  const after = describeTopology(changed);
  assert.deepEqual(path(after), ['decode', 'filterValue(germanOnly)', 'keyBy(email)']);
  assert.ok(!after.graph.nodes.some((n) => n.operator === 'validate'), 'no validate node once the pipeline has none');
  assert.notEqual(graphAsText(after), graphAsText(before));
});

test('every shipped topology is traced end to end: no untraced RxJS step, every output written, every DLQ reachable', () => {
  for (const def of Object.values(TOPOLOGIES)) {
    const d = describeTopology(def);
    assert.deepEqual(
      d.graph.nodes.filter((n) => n.operator === UNTRACED).map((n) => n.id),
      [],
      `${def.name}: untraced steps`,
    );
    const written = new Set(d.lineage.map((l) => l.to));
    for (const o of def.outputs) assert.ok(written.has(o.topic), `${def.name}: lineage reaches ${o.topic}`);
    for (const s of d.sources) {
      const froms = new Set(d.lineage.filter((l) => l.from === s.topic).map((l) => l.to));
      assert.ok(froms.size > 0, `${def.name}: ${s.topic} leads somewhere`);
    }
  }
});

test('the graph names window state, late topics and reference lookups as edges', () => {
  const g = describeTopology(TOPOLOGIES.metrics).graph;
  const name = (id: string) => g.nodes.find((n) => n.id === id)!.name;
  const edges = (kind: string) => g.edges.filter((e) => e.kind === kind).map((e) => [name(e.from), name(e.to)]);
  assert.ok(
    edges('state').some(
      ([op, store]) => op.startsWith('window(funnel_5m') && store === 'sluice.metrics.funnel_5m.changelog',
    ),
  );
  assert.ok(edges('late').some(([, late]) => late === 'metrics.late'));
  assert.ok(edges('lookups').some(([table, op]) => table === 'silver.products' && op === 'enrich(products)'));
  assert.match(graphAsMermaid([describeTopology(TOPOLOGIES.metrics)]), /-\. state \.->/);
});

test('ops.step runs a plain RxJS operator as a named, traced step of the graph', async () => {
  const upper = defineTopology({
    ...TOPOLOGIES.customers,
    pipeline: ({ sources, ops }) =>
      sources['oltp.customers'].pipe(
        ops.decode<Customer>(),
        ops.step(
          'upperCaseCountry',
          map((env: Envelope<Customer>) => ({
            ...env,
            value: { ...env.value, country: env.value.country.toUpperCase() },
          })),
        ),
        ops.keyBy((c: Customer) => String(c.customer_id)),
        ops.toTopic('silver.customers'),
      ),
  });
  const path = describeTopology(upper).lineage.find((l) => l.to === 'silver.customers')!.via;
  assert.deepEqual(path, ['decode', 'upperCaseCountry', 'keyBy(customer_id)']);
  const d = await createTestDriver(upper, { now: T0 });
  d.pipeInput('oltp.customers', customer(1, { country: 'de' }), { key: '1' });
  assert.equal((d.readOutput('silver.customers')[0].value as Customer).country, 'DE');
  assert.equal(d.committed('oltp.customers'), 1, 'the step kept the ack');
  d.close();
});
