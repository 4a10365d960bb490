import { map, type MonoTypeOperatorFunction } from 'rxjs';
import type { Envelope } from '../topology/types.ts';
import { functionLabel } from './functionLabel.ts';
import type { OperatorContext } from './operatorContext.ts';

/**
 * Re-keys the record: the new key is the output record's key (and so its partition).
 *
 * @example ops.keyBy((c: Customer) => String(c.customer_id))
 */
export function keyBy<T>(
  ctx: OperatorContext,
  fn: (value: T) => string | null,
  name?: string,
): MonoTypeOperatorFunction<Envelope<T>> {
  return ctx.graph.operator(
    { operator: 'keyBy', label: `keyBy(${name ?? functionLabel(fn)})` },
    map((env: Envelope<T>) => ({ ...env, key: fn(env.value) })),
  );
}
