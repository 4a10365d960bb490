import { map, type OperatorFunction } from 'rxjs';
import type { Envelope } from '../topology/types.ts';
import type { OperatorContext } from './operatorContext.ts';

/**
 * Joins each value with the reference table entry under `keyOf(value)` (a stream–table join
 * against a topic read in full, GlobalKTable style); `join` gets undefined when there is none.
 *
 * @example ops.enrich('products', (i: OrderItem) => String(i.product_id), (i, p) => ({ ...i, category: p?.category }))
 */
export function enrich<T, R>(
  ctx: OperatorContext,
  table: string,
  keyOf: (value: T) => string | null | undefined,
  join: (value: T, ref: any) => R,
): OperatorFunction<Envelope<T>, Envelope<R>> {
  return ctx.graph.operator(
    { operator: 'enrich', label: `enrich(${table})`, reads: [ctx.tableTopic(table)] },
    map((env: Envelope<T>): Envelope<R> => {
      const k = keyOf(env.value);
      const ref = k === null || k === undefined ? undefined : ctx.rules.table(table).get(String(k));
      return { ...env, value: join(env.value, ref) } as Envelope<R>;
    }),
  );
}
