import { tablePlanOf } from '../../connectors/postgres/warehouse/avroToPg.ts';
import { parseWarehouseSinkConfig } from '../../connectors/postgres/warehouse/config.ts';
import { loadSchema } from '../domain/schemas.ts';
import { describeTopology, type TopologyDescription } from '../engine/describeTopology.ts';
import type { FreshnessSla } from '../quality/freshnessSlas.ts';
import { sourceOf } from '../quality/measureFreshness.ts';
import type { WarehouseTable } from '../shop/warehouseModel.ts';
import { testName, type WarehouseTest } from '../shop/warehouseTests.ts';
import { dlqTopicOf } from '../topology/defineTopology.ts';
import type { TopologyDefinition } from '../topology/types.ts';
import type { CatalogEntry, CatalogFreshness, CatalogLink } from './catalogEntry.ts';
import { withMartEntries } from './martEntries.ts';
import { piiMark, schemaFields } from './schemaFields.ts';

/** What the catalog is built from: all of it declared in code, none of it read from a service. */
export interface CatalogInputs {
  topologies: readonly TopologyDefinition[];
  /** The warehouse model's tables (`medallionTables()`). */
  tables: readonly WarehouseTable[];
  tests: readonly WarehouseTest[];
  slas: readonly FreshnessSla[];
  /** The parsed Avro schema of a schema name; default `loadSchema` (schemas/*.avsc). Throws when there is none. */
  schemaOf?: (name: string) => unknown;
}

interface Described {
  def: TopologyDefinition;
  d: TopologyDescription;
}

/**
 * Every topic the topologies read or write and every warehouse table, with owner, schema fields,
 * lineage, freshness SLA and quality checks. Pure: lineage comes from each topology's derived
 * graph (`describeTopology`, built without I/O), fields from the schema files and the warehouse
 * model; registry versions and measurements are `catalogLive`'s. Internal topics (DLQs,
 * repartition topics, changelogs) are not entries: a DLQ shows as its topic's quality.
 *
 * @example
 *   const entries = buildCatalog({ topologies: Object.values(TOPOLOGIES), tables: medallionTables(),
 *     tests: WAREHOUSE_TESTS, slas: DEFAULT_FRESHNESS_SLAS });
 */
export function buildCatalog(inputs: CatalogInputs): CatalogEntry[] {
  const schemaOf = inputs.schemaOf ?? loadSchema;
  const all = inputs.topologies.map((def) => ({ def, d: describeTopology(def) }));
  const tableOfOutput = new Map(inputs.tables.map((t) => [t.output, tableName(t)]));
  const internal = internalTopics(all);
  const topics = new Set<string>();
  for (const { d } of all)
    for (const t of [
      ...d.sources.map((s) => s.topic),
      ...d.outputs.filter((o) => !o.sink).map((o) => o.topic),
      ...d.references.map((r) => r.topic),
    ])
      if (!internal.has(t)) topics.add(t);
  const linkTo = (name: string): CatalogLink | undefined => {
    if (internal.has(name)) return undefined;
    const table = tableOfOutput.get(name);
    if (table) return { kind: 'table', name: table };
    const isSink = all.some(({ d }) => d.outputs.some((o) => o.topic === name && o.sink));
    return { kind: isSink ? 'sink' : 'topic', name };
  };
  return withMartEntries(
    [
      ...[...topics].sort().map((t) => topicEntry(t, all, inputs, schemaOf, linkTo)),
      ...inputs.tables.map((t) => tableEntry(t, all, inputs, schemaOf)),
    ],
    inputs.tests,
  );
}

/** `warehouse:<schema>.<table>`, the name freshness subjects give a table too. */
export function tableName(t: WarehouseTable): string {
  return `warehouse:${t.sink.schema}.${t.sink.table}`;
}

/** DLQs (declared and in the graphs), repartition topics and state changelogs: plumbing, not data sets. */
function internalTopics(all: Described[]): Set<string> {
  const out = new Set<string>();
  for (const { def, d } of all) {
    for (const s of def.sources) out.add(dlqTopicOf(s));
    for (const o of def.outputs) if (o.raw) out.add(o.topic);
    for (const n of d.graph.nodes) if (n.kind === 'dlq' || n.kind === 'store') out.add(n.name);
  }
  return out;
}

function topicEntry(
  topic: string,
  all: Described[],
  inputs: CatalogInputs,
  schemaOf: (name: string) => unknown,
  linkTo: (name: string) => CatalogLink | undefined,
): CatalogEntry {
  const writers = all.filter(({ d }) => d.outputs.some((o) => o.topic === topic && !o.sink));
  const readers = all.filter(
    ({ d }) => d.sources.some((s) => s.topic === topic) || d.references.some((r) => r.topic === topic),
  );
  const schemaName =
    writers.flatMap(({ d }) => d.outputs.filter((o) => o.topic === topic).map((o) => o.schema))[0] ??
    readers.flatMap(({ d }) => d.sources.filter((s) => s.topic === topic).map((s) => s.schema))[0] ??
    topic;
  const schema = trySchema(schemaOf, schemaName);
  const upstream: CatalogLink[] = [];
  for (const { d } of writers) {
    upstream.push({ kind: 'topology', name: d.name });
    for (const l of d.lineage) if (l.to === topic) pushLink(upstream, linkTo(l.from));
  }
  const downstream: CatalogLink[] = [];
  for (const { d } of readers) {
    downstream.push({ kind: 'topology', name: d.name });
    for (const l of d.lineage) if (l.from === topic) pushLink(downstream, linkTo(l.to));
  }
  const owner = writers.find(({ def }) => def.owner);
  return {
    kind: 'topic',
    name: topic,
    ...(typeof (schema as { doc?: unknown })?.doc === 'string' ? { description: (schema as { doc: string }).doc } : {}),
    owner: owner?.def.owner ?? null,
    ...(owner ? { ownerTopology: owner.def.name } : {}),
    schema: schema
      ? { name: schemaName, subject: `${schemaName}-value`, status: 'offline' }
      : { name: null, subject: null, status: 'no subject' },
    fields: schemaFields(schema),
    upstream,
    downstream,
    freshness: freshnessOf(inputs.slas.find((s) => s.kind === 'topic' && s.topic === topic)),
    quality: {
      dlq: unique(readers.flatMap(({ def }) => def.sources.filter((s) => s.topic === topic).map(dlqTopicOf))),
      rules: unique(readers.flatMap(({ def, d }) => rulesOn(topic, def, d))),
      tests: [],
    },
  };
}

/**
 * The rules a topology validates a source topic's records with: those named in a `validate`
 * step on a lineage path from the topic (the graph labels the step with its rule names).
 */
function rulesOn(topic: string, def: TopologyDefinition, d: TopologyDescription): string[] {
  // The label is `validate(a, b→<table topic>)`: each rule's name, a referential one with its table.
  const named = new Set(
    d.lineage
      .filter((l) => l.from === topic)
      .flatMap((l) => l.via.filter((v) => v.startsWith('validate(') && v.endsWith(')')))
      .flatMap((v) => v.slice('validate('.length, -1).split(', '))
      .map((r) => r.split('→')[0]),
  );
  return (def.rules ?? []).filter((r) => named.has(r.name)).map((r) => `${r.name}: ${r.describe()}`);
}

function tableEntry(
  t: WarehouseTable,
  all: Described[],
  inputs: CatalogInputs,
  schemaOf: (name: string) => unknown,
): CatalogEntry {
  const avro = typeof t.sink.avroSchema === 'string' ? schemaOf(t.sink.avroSchema) : t.sink.avroSchema;
  const plan = tablePlanOf(parseWarehouseSinkConfig(t.sink), avro as Record<string, unknown>);
  const avroFields = new Map(
    ((avro as { fields?: Record<string, unknown>[] }).fields ?? []).map((f) => [String(f.name), f]),
  );
  const writer = all.find(({ d }) => d.graph.nodes.some((n) => n.kind === 'sink' && n.name === t.output));
  const source = writer?.def.sources.find((s) => s.topic === t.source);
  const surrogate = plan.surrogateKey
    ? [{ name: plan.surrogateKey, type: 'bigint not null', doc: 'Surrogate key of this version.', pii: null }]
    : [];
  const sla = inputs.slas.find((s) => s.kind === 'table' && s.schema === plan.schema && s.table === plan.table);
  return {
    kind: 'table',
    name: tableName(t),
    ...(plan.comment ? { description: plan.comment } : {}),
    owner: writer?.def.owner ?? null,
    ...(writer?.def.owner ? { ownerTopology: writer.def.name } : {}),
    schema: {
      name: typeof t.sink.avroSchema === 'string' ? t.sink.avroSchema : t.sink.avroSchema.name,
      subject: null,
      status: 'no subject',
    },
    fields: [
      ...surrogate,
      ...plan.columns.map((c) => ({
        name: c.name,
        type: `${c.pgType}${c.nullable ? '' : ' not null'}`,
        ...(c.comment ? { doc: c.comment } : {}),
        pii: avroFields.has(c.name) ? piiMark(avroFields.get(c.name)!) : null,
      })),
    ],
    upstream: [
      ...(writer ? [{ kind: 'topology' as const, name: writer.def.name }] : []),
      { kind: 'topic', name: t.source },
    ],
    downstream: [],
    freshness: freshnessOf(sla),
    quality: {
      dlq: source ? [dlqTopicOf(source)] : [],
      rules: t.transform ? [`transform ${t.transform.name} (a failure dead-letters the record)`] : [],
      tests: inputs.tests.filter((x) => x.layer === t.layer && x.table === plan.table).map(testName),
    },
    warehouse: { status: 'offline' },
  };
}

function freshnessOf(sla: FreshnessSla | undefined): CatalogFreshness | null {
  if (!sla) return null;
  return {
    subject: sla.subject,
    source: sourceOf(sla),
    warnAfterSeconds: sla.warnAfterMs / 1000,
    breachAfterSeconds: sla.breachAfterMs / 1000,
    state: 'not measured',
  };
}

function trySchema(schemaOf: (name: string) => unknown, name: string): unknown {
  try {
    return schemaOf(name);
  } catch {
    return undefined;
  }
}

function pushLink(links: CatalogLink[], link: CatalogLink | undefined): void {
  if (link && !links.some((l) => l.kind === link.kind && l.name === link.name)) links.push(link);
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}
