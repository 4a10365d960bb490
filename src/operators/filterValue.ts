import { filter, type MonoTypeOperatorFunction } from 'rxjs';
import type { Envelope } from '../topology/types.ts';
import { functionLabel } from './functionLabel.ts';
import type { OperatorContext } from './operatorContext.ts';

/**
 * Keeps records whose predicate holds; the others are acknowledged at once (nothing derives
 * from them, so nothing holds their offset back).
 *
 * @example ops.filterValue((m: MetricInput) => m.metric === 'revenue', 'revenue')
 */
export function filterValue<T>(
  ctx: OperatorContext,
  fn: (value: T) => boolean,
  name?: string,
): MonoTypeOperatorFunction<Envelope<T>> {
  return ctx.graph.operator(
    { operator: 'filterValue', label: `filterValue(${name ?? functionLabel(fn)})` },
    filter((env: Envelope<T>) => fn(env.value)),
  );
}
