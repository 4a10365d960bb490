import { map, type OperatorFunction } from 'rxjs';
import { loadType } from '../domain/schemas.ts';
import type { Envelope, Output } from '../topology/types.ts';
import { DROP, mapOrDrop } from './mapOrDrop.ts';
import type { OperatorContext } from './operatorContext.ts';

/**
 * Writes to an output declared in the topology's `outputs` — a Kafka topic, or a sink (S3, the
 * warehouse) when the output names one; the stream ends here. Values are checked against the
 * output schema here, not at the producer: a value the schema refuses is this record's
 * processing failure (DLQ), not a reason to stop the runner. `raw` outputs carry the record's
 * original bytes and headers.
 *
 * @example ops.toTopic('silver.customers')
 */
export function toTopic<T>(ctx: OperatorContext, topic: string): OperatorFunction<Envelope<T>, Output> {
  const spec = ctx.output(topic, `toTopic("${topic}")`);
  const kind = spec.sink ? 'sink' : 'topic';
  const node = { operator: 'toTopic', label: `toTopic(${topic})`, writes: [{ topic, sink: Boolean(spec.sink) }] };
  if (spec.raw) {
    return ctx.graph.operator(
      node,
      map(
        (env: Envelope<T>): Output => ({
          kind,
          topic,
          key: env.source.key,
          value: env.source.value,
          raw: true,
          headers: env.source.headers,
          acks: [env.ack],
          timestamp: env.source.timestamp,
          source: env.source,
        }),
      ),
    );
  }
  const type = loadType(spec.schema);
  return ctx.graph.operator(
    { ...node, deadLetters: true },
    mapOrDrop((env: Envelope<T>): Output | typeof DROP => {
      const bad: string[] = [];
      if (!type.isValid(env.value, { errorHook: (path) => bad.push(path.join('.') || '(root)') })) {
        const message = `output for ${topic} does not match schema ${spec.schema} at ${bad.slice(0, 5).join(', ')}`;
        ctx.deadLetter(env, 'processing', message, { schemaId: env.schemaId });
        return DROP;
      }
      return {
        kind,
        topic,
        key: env.key,
        value: env.value,
        schemaSubjectTopic: spec.schema,
        acks: [env.ack],
        timestamp: env.source.timestamp,
        source: env.source,
      };
    }),
  );
}
