import { map, type MonoTypeOperatorFunction } from 'rxjs';
import { loadSchema } from '../domain/schemas.ts';
import { REDACT_EVERYWHERE } from '../pii/piiMasking.ts';
import { maskRecord, type PiiField, piiFields } from '../pii/piiFields.ts';
import type { PiiZone } from '../pii/piiPolicy.ts';
import type { Envelope } from '../topology/types.ts';
import type { OperatorContext } from './operatorContext.ts';

/**
 * Masks the fields marked `"sluice.pii"` in the record's schema by the zone's policy
 * (SLUICE_PII_<ZONE>): hash, redact, truncate, or keep; a zone reading already masked values
 * (staging, warehouse and feed read silver) applies only what is stricter than its input. Strings
 * stay strings and nulls stay null, so the record still matches its schema. Put it after
 * `validate` (rules see the original values) and before `keyBy` (keys come from masked values).
 * The schema is the source's reader schema unless `schema` names another (after a `mapValue`
 * that changes the shape). Without a configured masking (a bare instance) it redacts.
 *
 * @example sources['oltp.customers'].pipe(ops.decode(), ops.validate([...]), ops.maskPii('silver'), ops.keyBy(...))
 */
export function maskPii<T>(
  ctx: OperatorContext,
  zone: PiiZone,
  opts: { schema?: string } = {},
): MonoTypeOperatorFunction<Envelope<T>> {
  const masker = (ctx.pii ?? REDACT_EVERYWHERE).maskerFor(zone);
  const bySchema = new Map<string, PiiField[]>();
  const fieldsOf = (schema: string): PiiField[] => {
    let fields = bySchema.get(schema);
    if (!fields) {
      fields = piiFields(loadSchema(schema), schema);
      bySchema.set(schema, fields);
    }
    return fields;
  };
  if (opts.schema) fieldsOf(opts.schema); // a bad mark fails when the pipeline is built
  return ctx.graph.operator(
    { operator: 'maskPii', label: `maskPii(${zone}${opts.schema ? `, ${opts.schema}` : ''})` },
    map((env: Envelope<T>): Envelope<T> => {
      if (!masker) return env;
      const fields = fieldsOf(opts.schema ?? ctx.sourceSchema(env.source.topic));
      return fields.length ? { ...env, value: maskRecord(env.value, fields, masker) } : env;
    }),
  );
}
