import type { OperatorFunction } from 'rxjs';
import type avro from 'avsc';
import { SluiceError, isSluiceError } from '../core/errors.ts';
import type { Envelope } from '../topology/types.ts';
import { DROP, mapOrDrop } from './mapOrDrop.ts';
import type { OperatorContext } from './operatorContext.ts';
import { VALID_EXPECTATION } from '../quality/qualityThresholds.ts';

/** Which SERDE error codes mean "does not match its schema" rather than "cannot be decoded". */
const SCHEMA_CODES = new Set(['SERDE_UNKNOWN_SCHEMA', 'SERDE_SCHEMA_MISMATCH']);

/**
 * Avro decode (Confluent wire format, writer schema from the registry, read with the source's
 * reader schema). A value that cannot be decoded leaves for the DLQ (`deserialize`, or `schema`
 * for an unknown or incompatible writer schema); any other error is a bug and stops the runner.
 * A tombstone (null value with a key) is skipped and counted (`tombstoneSkipped`), not dead-lettered.
 *
 * @example sources['oltp.customers'].pipe(ops.decode<Customer>(), ...)
 */
export function decode<T>(
  ctx: OperatorContext,
  readers: ReadonlyMap<string, avro.Type>,
): OperatorFunction<Envelope<Buffer | null>, Envelope<T>> {
  // Quality scores: `valid` per source topic, counted in place (see src/quality/qualityCounts.ts).
  const counts = ctx.metrics.quality?.step([VALID_EXPECTATION]);
  return ctx.graph.operator(
    { operator: 'decode', label: 'decode', deadLetters: true },
    mapOrDrop((env: Envelope<Buffer | null>): Envelope<T> | typeof DROP => {
      if (!ctx.serde) throw new SluiceError('INTERNAL', `topology ${ctx.topology} was built without a serde`);
      // A keyed null value is a tombstone (a CDC delete's compaction marker): nothing to decode or
      // to dead-letter. It is counted, and dropped, which acknowledges it.
      if (env.source.value === null && env.source.key !== null) {
        ctx.metrics.tombstoneSkipped?.(env.source.topic);
        return DROP;
      }
      const slot = counts?.of(env.source.topic);
      if (slot) slot.entered++;
      try {
        const { value, schemaId } = ctx.serde.decodeSync(env.source.value, env.source, readers.get(env.source.topic));
        return { ...env, value: value as T, schemaId };
      } catch (err) {
        if (!isSluiceError(err) || !err.shortCode.startsWith('SERDE_')) throw err;
        if (slot) slot.failed[0]++;
        const reason = SCHEMA_CODES.has(err.shortCode) ? 'schema' : 'deserialize';
        const schemaId = err.details?.schemaId as number | undefined;
        ctx.deadLetter(env, reason, `${err.code}: ${err.message}`, { schemaId });
        return DROP;
      }
    }),
  );
}
