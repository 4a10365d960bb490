import type { S3SinkConfigInput, S3Zone } from '../connectors/s3/config.ts';
import { s3Sink } from '../connectors/s3/sink.ts';
import { loadConfig } from '../src/config/config.ts';
import { defineTopology } from '../src/topology/defineTopology.ts';
import type { OutputSpec, SinkFactory, SourceSpec, TopologyDefinition } from '../src/topology/types.ts';

/** Source topics archived as they came, every record, in the `raw` zone. */
export const LAKE_RAW_TOPICS = [
  'oltp.customers',
  'oltp.products',
  'oltp.orders',
  'oltp.order_items',
  'web.clickstream',
] as const;
/** Validated topics, decoded and written with their own schema, in the `staging` zone. */
export const LAKE_STAGING_TOPICS = [
  'silver.customers',
  'silver.products',
  'silver.orders',
  'silver.order_items',
  'silver.clickstream',
] as const;
/** The validation topologies' DLQs, original bytes and error headers, in the `quarantine` zone. */
export const LAKE_QUARANTINE_TOPICS = LAKE_RAW_TOPICS.map((t) => `${t}.dlq`);

/** The sink output of one source topic: `lake.<zone>.<topic>`. */
export function lakeOutput(zone: S3Zone, topic: string): string {
  return `lake.${zone}.${topic}`;
}

/** The DLQ of a lake source. */
export function lakeErrorsTopic(topic: string): string {
  return `${topic}.lake-errors`;
}

/**
 * The `lake` topology with the given S3 sink settings (zone and name are set per output).
 *
 * One output per source topic, each with its own connector, because an output names a schema
 * and the engine loads it: raw and quarantine outputs name the source's schema (registered
 * anyway; the records stay raw bytes), staging outputs the silver schema their values are
 * checked against and written with. Objects are named by the source record (topic, partition,
 * offset), not by the output. Every source gets a DLQ topic; here it is `<topic>.lake-errors`:
 * never `x.dlq.dlq`, and never `oltp.customers.dlq`, which is a source of this topology itself.
 * Only the staging sources can fail (a silver value that does not decode); raw bytes never do.
 */
export function lakeTopology(sink: Omit<S3SinkConfigInput, 'zone' | 'name'> = {}): TopologyDefinition {
  const quarantineSchemaOf = (dlq: string) => dlq.slice(0, -'.dlq'.length);
  const sources: SourceSpec[] = [
    ...LAKE_RAW_TOPICS.map((topic) => ({ topic, dlq: lakeErrorsTopic(topic) })),
    ...LAKE_STAGING_TOPICS.map((topic) => ({ topic, dlq: lakeErrorsTopic(topic) })),
    ...LAKE_QUARANTINE_TOPICS.map((topic) => ({
      topic,
      schema: quarantineSchemaOf(topic),
      dlq: lakeErrorsTopic(topic),
    })),
  ];
  const output = (zone: S3Zone, topic: string, schema: string, raw: boolean): OutputSpec => ({
    topic: lakeOutput(zone, topic),
    schema,
    ...(raw ? { raw: true } : {}),
    sink:
      zone === 'staging' && !sink.format
        ? stagingSink(sink, lakeOutput(zone, topic))
        : s3Sink({ ...sink, zone, name: lakeOutput(zone, topic) }),
  });
  return defineTopology({
    name: 'lake',
    owner: { team: 'data-platform' },
    description: 'Kafka topics to the S3 lake: raw (every source record), staging (silver), quarantine (DLQs)',
    sources,
    outputs: [
      ...LAKE_RAW_TOPICS.map((t) => output('raw', t, t, true)),
      ...LAKE_STAGING_TOPICS.map((t) => output('staging', t, t, false)),
      ...LAKE_QUARANTINE_TOPICS.map((t) => output('quarantine', t, quarantineSchemaOf(t), true)),
    ],
    pipeline: ({ sources: input, ops }) =>
      ops.merge(
        ...LAKE_RAW_TOPICS.map((t) => input[t].pipe(ops.toTopic(lakeOutput('raw', t)))),
        ...LAKE_STAGING_TOPICS.map((t) =>
          input[t].pipe(ops.decode(), ops.maskPii('staging'), ops.toTopic(lakeOutput('staging', t))),
        ),
        ...LAKE_QUARANTINE_TOPICS.map((t) => input[t].pipe(ops.toTopic(lakeOutput('quarantine', t)))),
      ),
  });
}

/**
 * A staging sink in the format SLUICE_LAKE_STAGING_FORMAT names, read when the runner starts the
 * sink rather than when this module is imported (every CLI command imports the topologies).
 */
function stagingSink(sink: Omit<S3SinkConfigInput, 'zone' | 'name'>, name: string): SinkFactory {
  return (ctx) => {
    const format = (ctx.config ?? loadConfig()).lakeStagingFormat;
    return s3Sink({ ...sink, format, zone: 'staging', name })(ctx);
  };
}

/** The S3 zones of the lake with the default sink settings (SPEC §7). */
export default lakeTopology();
