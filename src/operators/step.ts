import type { OperatorFunction } from 'rxjs';
import type { Envelope } from '../topology/types.ts';
import type { OperatorContext } from './operatorContext.ts';

/**
 * Any RxJS operator as a named step of the graph (Kafka Streams' `process()`), for what the
 * built-in operators do not cover. It must keep each envelope's ack: derive outputs with
 * `{ ...env, value }`, and drop records only by filtering (a dropped record is acknowledged).
 *
 * @example ops.step('throttle', throttleTime(1000))
 */
export function step<T, R>(
  ctx: OperatorContext,
  name: string,
  operator: OperatorFunction<Envelope<T>, Envelope<R>>,
): OperatorFunction<Envelope<T>, Envelope<R>> {
  return ctx.graph.operator({ operator: 'step', label: name }, operator);
}
